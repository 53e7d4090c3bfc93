// Rotating the master key: each data key wrapped by a previous master key is unwrapped by it and wrapped again by
// the current one, in `personal_keys`. The sealed events are not touched (they are sealed with the data keys, which
// do not change), so a rotation rewrites one small row per subject, whatever the size of the log.
import { type MasterKeyOptions, MasterKeyRing, type RewrapReport } from '@myelin/core';
import type { Database } from '../database/database.ts';

/** The master keys to rotate between, and how many data keys to rewrap per transaction. */
export interface RewrapOptions extends MasterKeyOptions {
  /** Data keys per transaction, which are also the master keys' calls at once (a KMS's); 100 by default. */
  readonly batchSize?: number;
  /**
   * Ends the rewrap after the batch under way (a process stopping): what was rewrapped stays, and the report
   * counts the rest as `left`, for the next run.
   */
  readonly signal?: AbortSignal;
}

/**
 * Rewraps every data key wrapped by one of `previousMasterKeys` under `masterKey`, a batch per transaction, and
 * reports how many it rewrapped and what it left under another master key. Data keys wrapped by a master key not
 * given are not touched: they are counted, with the ids of their master keys. Safe while the application runs (it
 * reads with both keys meanwhile) and to run again, also at the same time as another run: each key is rewrapped
 * once. A subject forgotten meanwhile stays forgotten: a batch's keys are locked until it commits, so an erasure
 * waits for the batch or the batch skips the key, and the update of a deleted key changes nothing.
 * @example
 * const report = await rewrapDataKeys(database, {
 *   masterKey: localMasterKey(process.env.MYELIN_MASTER_KEY, 'k2'),
 *   // The id the old key had: 'local' when none was given.
 *   previousMasterKeys: [localMasterKey(process.env.MYELIN_OLD_MASTER_KEY, 'local')],
 * });
 * // { rewrapped: 1200, left: 0, unknown: 0, unknownMasterKeys: [] }: the old key can be dropped
 */
export async function rewrapDataKeys(database: Database, options: RewrapOptions): Promise<RewrapReport> {
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new TypeError(`A rewrap's batchSize is a positive integer, not ${batchSize}`);
  }
  const ring = new MasterKeyRing(options.masterKey, options.previousMasterKeys);
  const previous = ring.previousIds;
  const s = database.schema;
  let rewrapped = 0;
  // Through the primary key, from where the last batch ended: one pass over the table, where a scan for keys not
  // yet rewrapped would read the whole table again at every batch (master_key has no index).
  let after = '';
  let more = previous.length > 0;
  while (more && options.signal?.aborted !== true) {
    more = await database.transaction(async (sql) => {
      // NO KEY UPDATE, the lock the UPDATE takes anyway: it does not wait for the projection batches and event
      // handlers that hold their events' keys in KEY SHARE mode, or block them (FOR UPDATE would); it does
      // conflict with an erasure's DELETE and with another run, whose keys SKIP LOCKED passes over (they are that
      // run's to rewrap, or gone). Appends read keys without a lock: neither waits for the other.
      const { rows } = await sql.query<{ id: string; wrapped: string; master_key: string }>(
        `SELECT id, wrapped, master_key FROM ${s}.personal_keys
         WHERE id > $1 AND master_key = ANY ($2::text[])
         ORDER BY id LIMIT $3 FOR NO KEY UPDATE SKIP LOCKED`,
        [after, previous, batchSize],
      );
      const wrapped = await Promise.all(
        rows.map(async (row) =>
          Buffer.from(
            await ring.rewrap({
              id: row.id,
              wrapped: new Uint8Array(Buffer.from(row.wrapped, 'base64')),
              masterKey: row.master_key,
            }),
          ).toString('base64'),
        ),
      );
      if (rows.length > 0) {
        const { rowCount } = await sql.query(
          `UPDATE ${s}.personal_keys AS k SET wrapped = r.wrapped, master_key = $3
           FROM unnest($1::text[], $2::text[]) AS r (id, wrapped) WHERE k.id = r.id`,
          [rows.map((row) => row.id), wrapped, ring.current.id],
        );
        rewrapped += rowCount;
        after = (rows.at(-1) as { id: string }).id;
      }
      return rows.length === batchSize;
    });
  }
  const { rows } = await database.query<{ master_key: string; keys: number }>(
    `SELECT master_key, count(*)::integer AS keys FROM ${s}.personal_keys WHERE master_key <> $1 GROUP BY master_key`,
    [ring.current.id],
  );
  return ring.report(rewrapped, new Map(rows.map((row) => [row.master_key, row.keys])));
}
