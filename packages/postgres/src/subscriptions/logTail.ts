import { type LogPosition, positionParts, type StoredEvent, startOfLog } from '@myelin/core';
import type { Database } from '../database/database.ts';
import { listenForCommits } from './commitListener.ts';
import { readLog } from './logReader.ts';
import { logSignal } from './logSignal.ts';

export interface TailLogOptions {
  /** Start after this position (a reconnecting client's last event); from the log's present end when absent. */
  readonly after?: LogPosition | undefined;
  /** Only events of these type names. */
  readonly types?: readonly string[];
  /** Ends the tail. */
  readonly signal: AbortSignal;
  /**
   * The longest wait between two reads when nothing woke the tail; defaults to 1 s. Commits in this process wake
   * it at once, and on PostgreSQL other processes' commits too (it listens for their notifications).
   */
  readonly pollMs?: number;
  /** Events read at a time; defaults to 100. */
  readonly batchSize?: number;
}

/**
 * The log's events as they commit, in log order, from a position or from now, until the signal aborts: what a
 * live view (Server-Sent Events) follows. Like every reader of the log it reads below the horizon, so an event
 * committed late is delivered, never skipped. Events come as stored (not upcast), with their positions, which
 * a client can send back to resume after a reconnection.
 */
export async function* tailLog(database: Database, options: TailLogOptions): AsyncGenerator<StoredEvent> {
  const { signal } = options;
  const batchSize = options.batchSize ?? 100;
  const pollMs = options.pollMs ?? 1000;
  // From now: from the horizon (every transaction below it has ended), leaving out what had committed already.
  let after = options.after;
  let committed: ((position: LogPosition) => boolean) | undefined;
  if (after === undefined) {
    const { rows } = await database.query<{ snapshot: string }>(
      'SELECT pg_current_snapshot()::text AS snapshot',
    );
    committed = visibleIn(rows[0]?.snapshot ?? '0:0:');
    after = (await readLog(database, database.schema, { after: startOfLog, limit: 0 })).end;
  }
  // After a wake-up that found nothing, the commit is still above the horizon (another transaction, anywhere
  // on the server, began before it and is still running): look again soon, backing off, rather than at the poll.
  let retryMs: number | undefined;
  const stopListening = await listenForCommits(database);
  try {
    while (!signal.aborted) {
      const seen = logSignal(database).generation;
      const batch = await readLog(database, database.schema, {
        after,
        types: options.types,
        limit: batchSize,
      });
      for (const event of batch.events) {
        if (signal.aborted) return;
        if (committed?.(event.position) !== true) yield event;
      }
      after = batch.end;
      if (batch.events.length === batchSize) continue;
      if (batch.events.length > 0) retryMs = undefined;
      const woken = await logSignal(database).wait(retryMs ?? pollMs, signal, seen);
      retryMs = woken ? 10 : retryMs === undefined ? undefined : Math.min(retryMs * 2, pollMs);
    }
  } finally {
    await stopListening();
  }
}

/** Whether the transaction of a position had committed in a snapshot (`xmin:xmax:xip,…`, PostgreSQL's text form). */
export function visibleIn(snapshot: string): (position: LogPosition) => boolean {
  const [xmin = '0', xmax = '0', running = ''] = snapshot.split(':');
  const inProgress = new Set(running.split(',').filter((x) => x !== ''));
  const min = BigInt(xmin);
  const max = BigInt(xmax);
  return (position) => {
    const { transaction } = positionParts(position);
    const id = BigInt(transaction);
    return id < min || (id < max && !inProgress.has(transaction));
  };
}
