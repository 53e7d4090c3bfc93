/**
 * Where an event sits in the global log, written `transaction.sequence`: the writer's transaction, then the event's
 * sequence number. The log is read in this order. On PostgreSQL transactions commit in any order, and reading by
 * sequence alone would pass over an event whose transaction commits late; ordering by transaction first, below the
 * oldest transaction still running, never does. Treat a position as opaque: store it, pass it back, compare it
 * with {@link comparePositions}.
 */
export type LogPosition = string;

/** The position before the first event. */
export const startOfLog: LogPosition = '0.0';

/** The position of the `sequence`-th event, written by transaction `transaction`. */
export function logPosition(
  transaction: number | bigint | string,
  sequence: number | bigint | string,
): LogPosition {
  return `${transaction}.${sequence}`;
}

const positionPattern = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/;

/** True for a well-formed position (an HTTP header or query parameter a client sent back, say). */
export function isLogPosition(value: unknown): value is LogPosition {
  return typeof value === 'string' && positionPattern.test(value);
}

/** Negative, zero or positive as `a` comes before, at or after `b` in the log. Exact at any magnitude. */
export function comparePositions(a: LogPosition, b: LogPosition): number {
  const [aTransaction = '', aSequence = ''] = a.split('.');
  const [bTransaction = '', bSequence = ''] = b.split('.');
  return compareDigits(aTransaction, bTransaction) || compareDigits(aSequence, bSequence);
}

// Decimal strings without leading zeros compare by length, then character by character.
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
