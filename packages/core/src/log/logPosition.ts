/**
 * Where an event sits in the global log, written `transaction.sequence`: the writer's transaction, then the event's
 * sequence number. The log is read in this order. On PostgreSQL transactions commit in any order, and reading by
 * sequence alone would pass over an event whose transaction commits late; ordering by transaction first, below the
 * oldest transaction still running, never does. Treat a position as opaque: store it, pass it back, compare it
 * with {@link comparePositions}; make one with {@link logPosition} or check one with {@link isLogPosition}.
 */
export type LogPosition = string & { readonly __logPosition: true };

/** The position before the first event. */
export const startOfLog = '0.0' as LogPosition;

/** The position of the `sequence`-th event, written by transaction `transaction`. */
export function logPosition(
  transaction: number | bigint | string,
  sequence: number | bigint | string,
): LogPosition {
  return `${transaction}.${sequence}` as LogPosition;
}

/**
 * A position's two numbers, as decimal strings (exact at any size): what a store puts in its SQL. The one place a
 * position is taken apart.
 */
export function positionParts(position: LogPosition): {
  readonly transaction: string;
  readonly sequence: string;
} {
  const dot = position.indexOf('.');
  return { transaction: position.slice(0, dot), sequence: position.slice(dot + 1) };
}

const positionPattern = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/;

// The largest numbers a store holds: a transaction id is an unsigned 64-bit integer (PostgreSQL's xid8), a
// sequence a signed one (bigint). A position past them was never written, and a store could not even compare it.
const maxTransaction = '18446744073709551615';
const maxSequence = '9223372036854775807';

/** True for a well-formed position (an HTTP header or query parameter a client sent back, say). */
export function isLogPosition(value: unknown): value is LogPosition {
  if (typeof value !== 'string' || !positionPattern.test(value)) return false;
  const { transaction, sequence } = positionParts(value as LogPosition);
  return compareDigits(transaction, maxTransaction) <= 0 && compareDigits(sequence, maxSequence) <= 0;
}

/** Negative, zero or positive as `a` comes before, at or after `b` in the log. Exact at any magnitude. */
export function comparePositions(a: LogPosition, b: LogPosition): number {
  const first = positionParts(a);
  const second = positionParts(b);
  return (
    compareDigits(first.transaction, second.transaction) || compareDigits(first.sequence, second.sequence)
  );
}

// Decimal strings without leading zeros compare by length, then character by character.
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
