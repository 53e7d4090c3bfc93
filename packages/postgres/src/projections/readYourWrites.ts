// Read your writes: a query with a `minPosition` waits until its read model has applied the log that far.
import { comparePositions, type LogPosition, positionParts } from '@myelin/core';
import { type Database, prepared } from '../database/database.ts';
import { listenForCommits } from '../subscriptions/commitListener.ts';
import { perDatabase, progressSignal } from '../subscriptions/logSignal.ts';
import { runningHere } from '../subscriptions/subscriptionRunner.ts';
import { subscriptionsOfRow } from './projectionSubscription.ts';

/**
 * Waits (bounded by `timeoutMs`) until the read model serving `name` has applied the log up to `position`. It is
 * woken by the runners' progress (in this process directly, from others through the shared commit listener), not
 * by polling; a position no transaction has reached yet (a client's far-future guess) is answered at once.
 */
export async function readYourWrites(
  database: Database,
  name: string,
  position: LogPosition | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  if (position === undefined) return;
  const deadline = Date.now() + timeoutMs;
  const progress = progressSignal(database);
  // The looks begun before this query: their snapshots may be older than its write.
  const arrived = looksBegun;
  let after: number | undefined;
  let stopListening: (() => Promise<void>) | undefined;
  try {
    for (;;) {
      const seen = progress.generation;
      const current = look(database, name, after);
      const state = await current.progress;
      if (state === undefined || (await reached(database, name, state, position))) return;
      if (Date.now() >= deadline || signal.aborted) return; // bounded: then read what is there
      // A position no transaction has reached yet was not returned by a write, and waiting for it is in vain. A
      // look begun before this query may not know of its write's transaction: only a later one can tell.
      if (BigInt(positionParts(position).transaction) >= state.xmax) {
        if (current.number > arrived) return;
        after = arrived;
        continue;
      }
      // Runners in this process signal their progress directly; another's is heard through the commit listener,
      // whose connection may have to be opened first (milliseconds that a query waiting on a local runner, as in
      // a single-process application, need not spend). A local runner may lose its lease meanwhile: look again
      // every so often then.
      const local = state.subscriptions.every((subscription) => runningHere(database).has(subscription));
      if (!local && stopListening === undefined) {
        stopListening = await listenForCommits(database);
        // A runner elsewhere may have moved on before the listener was open, its notice unheard, and the look
        // may have begun before it did: look once more, afresh.
        after = looksBegun;
        continue;
      }
      const remaining = Math.max(0, deadline - Date.now());
      await progress.wait(stopListening === undefined ? Math.min(remaining, 100) : remaining, signal, seen);
    }
  } finally {
    await stopListening?.();
  }
}

/** How far the version of a read model serving queries has applied the log, as one look saw it. */
interface Progress {
  readonly mode: string;
  readonly status: string;
  /** The version's subscriptions (its own, or its partitions'), and how far each has read (null: not begun). */
  readonly subscriptions: readonly string[];
  readonly positions: readonly (LogPosition | null)[];
  /** The first transaction id not yet begun when it looked: a position at or beyond it was never written. */
  readonly xmax: bigint;
}

/** A look at a read model's progress: the statement's answer, and when it began. */
interface Look {
  /** The progress signal's generation when it began. */
  readonly generation: number;
  /** How many looks had begun in this process when it did, itself included. */
  readonly number: number;
  readonly progress: Promise<Progress | undefined>;
}

/** How many looks have begun in this process: each query notes it, to tell the looks begun after it. */
let looksBegun = 0;

/** The look in flight for each read model. */
const inFlight = perDatabase((): Map<string, Look> => new Map());

/**
 * How far the read model serving `name` has applied the log. Every query waiting for it wants the same answer
 * after each batch, so they share one statement: a query joins the look in flight when no progress has been
 * signalled since it began (what it would see, that look sees too) and, given `after`, when it began after the
 * look numbered `after`; it starts another otherwise. One statement per waiter per batch, as before, made a burst
 * of waiting queries take the pool from the very runner they waited for, and the lag grew with the number waiting
 * (bench/: p99.9 of 150 ms at 200 commands/s).
 */
function look(database: Database, name: string, after?: number): Look {
  const looks = inFlight(database);
  const generation = progressSignal(database).generation;
  const current = looks.get(name);
  if (
    current !== undefined &&
    current.generation === generation &&
    (after === undefined || current.number > after)
  ) {
    return current;
  }
  const entry: Look = { generation, number: ++looksBegun, progress: progressOf(database, name) };
  looks.set(name, entry);
  const done = () => {
    if (looks.get(name) === entry) looks.delete(name);
  };
  entry.progress.then(done, done);
  return entry;
}

/** One statement, prepared; undefined when no version of `name` is serving or building. */
async function progressOf(database: Database, name: string): Promise<Progress | undefined> {
  const { rows } = await database.query<{
    mode: string;
    status: string;
    subscriptions: string[];
    positions: (string | null)[];
    xmax: string;
  }>(
    `SELECT p.mode, p.status, array_agg(part.name) AS subscriptions,
       array_agg(s.transaction_id::text || '.' || s.sequence::text) AS positions,
       pg_snapshot_xmax(pg_current_snapshot())::text AS xmax
     FROM (SELECT * FROM ${database.schema}.projections WHERE name = $1 AND status <> 'retired'
           ORDER BY status = 'active' DESC, version DESC LIMIT 1) p
     CROSS JOIN LATERAL ${subscriptionsOfRow} part
     LEFT JOIN ${database.schema}.subscriptions s ON s.name = part.name
     GROUP BY p.mode, p.status`,
    [name],
    prepared,
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    mode: row.mode,
    status: row.status,
    subscriptions: row.subscriptions,
    positions: row.positions as (LogPosition | null)[],
    xmax: BigInt(row.xmax),
  };
}

/** Whether every subscription of the version has read up to `position`, or an inline one was written with it. */
async function reached(
  database: Database,
  name: string,
  progress: Progress,
  position: LogPosition,
): Promise<boolean> {
  if (progress.positions.every((read) => read !== null && comparePositions(read, position) >= 0)) return true;
  // An active inline projection was written in the very transaction of the write, which marked it.
  return progress.mode === 'inline' && progress.status === 'active' && markedBy(database, name, position);
}

/** Whether the transaction of a log position applied the active version of an inline projection itself. */
async function markedBy(database: Database, name: string, position: LogPosition): Promise<boolean> {
  const { rows } = await database.query(
    `SELECT FROM ${database.schema}.inline_marks m JOIN ${database.schema}.projections p
       ON p.name = m.projection AND p.version = m.version AND p.status = 'active'
     WHERE m.projection = $1 AND m.transaction_id = $2::text::xid8`,
    [name, positionParts(position).transaction],
  );
  return rows.length > 0;
}
