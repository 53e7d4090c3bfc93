// Read your writes: a query with a `minPosition` waits until its read model has applied the log that far.
import { type LogPosition, positionParts } from '@myelin/core';
import { type Database, prepared } from '../database/database.ts';
import { listenForCommits } from '../subscriptions/commitListener.ts';
import { progressSignal } from '../subscriptions/logSignal.ts';
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
  let stopListening: (() => Promise<void>) | undefined;
  try {
    for (;;) {
      const seen = progress.generation;
      const { reached, future, subscriptions } = await caughtUp(database, name, position);
      if (reached) return;
      if (Date.now() >= deadline || signal.aborted) return; // bounded: then read what is there
      // A position no transaction has reached yet was not returned by a write, and waiting for it is in vain.
      if (future) return;
      // Runners in this process signal their progress directly; another's is heard through the commit listener,
      // whose connection may have to be opened first (milliseconds that a query waiting on a local runner, as in
      // a single-process application, need not spend). A local runner may lose its lease meanwhile: look again
      // every so often then.
      const local = subscriptions.every((subscription) => runningHere(database).has(subscription));
      if (!local) stopListening ??= await listenForCommits(database);
      const remaining = Math.max(0, deadline - Date.now());
      await progress.wait(stopListening === undefined ? Math.min(remaining, 100) : remaining, signal, seen);
    }
  } finally {
    await stopListening?.();
  }
}

/**
 * Whether the read model serving `name` has applied the log up to `position`, whether no transaction has reached
 * that position yet (`future`), and the subscriptions (the version's own, or its partitions') that apply it. One
 * statement, prepared: a query that reads its own write asks it at least twice, on its way to its answer.
 */
async function caughtUp(
  database: Database,
  name: string,
  position: LogPosition,
): Promise<{ reached: boolean; future: boolean; subscriptions: readonly string[] }> {
  const { transaction, sequence } = positionParts(position);
  // Every partition (or the one subscription) of the version serving must have read that far.
  const { rows } = await database.query<{
    mode: string;
    status: string;
    reached: boolean;
    future: boolean;
    subscriptions: string[];
  }>(
    `SELECT p.mode, p.status, array_agg(part.name) AS subscriptions,
       bool_and(s.name IS NOT NULL AND (s.transaction_id, s.sequence) >= ($2::text::xid8, $3::bigint)) AS reached,
       $2::text::xid8 >= pg_snapshot_xmax(pg_current_snapshot()) AS future
     FROM (SELECT * FROM ${database.schema}.projections WHERE name = $1 AND status <> 'retired'
           ORDER BY status = 'active' DESC, version DESC LIMIT 1) p
     CROSS JOIN LATERAL ${subscriptionsOfRow} part
     LEFT JOIN ${database.schema}.subscriptions s ON s.name = part.name
     GROUP BY p.mode, p.status`,
    [name, transaction, sequence],
    prepared,
  );
  const row = rows[0];
  if (row === undefined) return { reached: true, future: false, subscriptions: [] };
  // An active inline projection was written in the very transaction of the write, which marked it.
  const reached =
    row.reached ||
    (row.mode === 'inline' && row.status === 'active' && (await markedBy(database, name, position)));
  return { reached, future: row.future, subscriptions: row.subscriptions };
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
