// Read your writes: a query with a `minPosition` waits until its read model has applied the log that far.
import { type LogPosition, positionParts } from '@myelin/core';
import type { Database } from '../database/database.ts';
import { listenForCommits } from '../subscriptions/commitListener.ts';
import { progressSignal } from '../subscriptions/logSignal.ts';
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
      if (await caughtUp(database, name, position)) return;
      if (Date.now() >= deadline || signal.aborted) return; // bounded: then read what is there
      if (stopListening === undefined) {
        if (await inTheFuture(database, position)) return;
        stopListening = await listenForCommits(database);
      }
      await progress.wait(Math.max(0, deadline - Date.now()), signal, seen);
    }
  } finally {
    await stopListening?.();
  }
}

/** Whether no transaction has yet reached `position`: it was not returned by a write, and waiting is in vain. */
async function inTheFuture(database: Database, position: LogPosition): Promise<boolean> {
  const { rows } = await database.query<{ future: boolean }>(
    'SELECT $1::text::xid8 >= pg_snapshot_xmax(pg_current_snapshot()) AS future',
    [positionParts(position).transaction],
  );
  return rows[0]?.future === true;
}

/** Whether the read model serving `name` has applied the log up to `position`. */
export async function caughtUp(database: Database, name: string, position: LogPosition): Promise<boolean> {
  const { transaction, sequence } = positionParts(position);
  // Every partition (or the one subscription) of the version serving must have read that far.
  const { rows } = await database.query<{ mode: string; status: string; reached: boolean }>(
    `SELECT p.mode, p.status,
       bool_and(s.name IS NOT NULL AND (s.transaction_id, s.sequence) >= ($2::text::xid8, $3::bigint)) AS reached
     FROM (SELECT * FROM ${database.schema}.projections WHERE name = $1 AND status <> 'retired'
           ORDER BY status = 'active' DESC, version DESC LIMIT 1) p
     CROSS JOIN LATERAL ${subscriptionsOfRow} part
     LEFT JOIN ${database.schema}.subscriptions s ON s.name = part.name
     GROUP BY p.mode, p.status`,
    [name, transaction, sequence],
  );
  const row = rows[0];
  if (row === undefined) return true;
  if (row.reached) return true;
  // An active inline projection was written in the very transaction of the write, which marked it.
  return row.mode === 'inline' && row.status === 'active' && (await markedBy(database, name, position));
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
