import type { IdempotencyClaim, IdempotencyStore, StoredIdempotentResponse } from '@myelin/core';
import { type Database, prepared, type Sql } from '../database/database.ts';

interface KeyRow {
  readonly fingerprint: string;
  readonly status: 'pending' | 'done';
  readonly response: StoredIdempotentResponse | null;
}

export interface PostgresIdempotencyStoreOptions {
  /** How often, at most, a claim also deletes expired records; defaults to a minute. */
  readonly purgeIntervalMs?: number;
}

/**
 * Idempotency keys in the `idempotency_keys` table, shared by every process on the database. A claim is one
 * upsert, so concurrent claims of a key serialize on its row and exactly one wins. Expired records count as
 * absent at once (a claim takes them over) and are deleted, in batches, as claims arrive.
 */
export class PostgresIdempotencyStore implements IdempotencyStore {
  readonly #database: Database;
  readonly #purgeIntervalMs: number;
  #nextPurge = 0;

  constructor(database: Database, options: PostgresIdempotencyStoreOptions = {}) {
    this.#database = database;
    this.#purgeIntervalMs = options.purgeIntervalMs ?? 60_000;
  }

  async claim(scope: string, key: string, fingerprint: string, expiresAt: Date): Promise<IdempotencyClaim> {
    const s = this.#database.schema;
    await this.#purge();
    // The record read after a lost claim can be released or expire before the read: then the key is free again,
    // and claiming again settles it. Bounded, so that a pathological race fails loudly instead of spinning.
    for (let attempt = 0; attempt < 5; attempt++) {
      const claimed = await this.#database.query(
        `INSERT INTO ${s}.idempotency_keys AS k (scope, key, fingerprint, status, expires_at)
         VALUES ($1, $2, $3, 'pending', $4::timestamptz)
         ON CONFLICT (scope, key) DO UPDATE
           SET fingerprint = excluded.fingerprint, status = 'pending', response = NULL,
               expires_at = excluded.expires_at, created_at = now(), subjects = NULL
           WHERE k.expires_at <= now()
         RETURNING 1 AS claimed`,
        [scope, key, fingerprint, expiresAt.toISOString()],
        prepared,
      );
      if (claimed.rows.length > 0) return { state: 'claimed' };
      const { rows } = await this.#database.query<KeyRow>(
        `SELECT fingerprint, status, response FROM ${s}.idempotency_keys
         WHERE scope = $1 AND key = $2 AND expires_at > now()`,
        [scope, key],
        prepared,
      );
      const row = rows[0];
      if (row === undefined) continue;
      return row.status === 'done' && row.response !== null
        ? { state: 'done', fingerprint: row.fingerprint, response: row.response }
        : { state: 'pending', fingerprint: row.fingerprint };
    }
    throw new Error(`Could not claim idempotency key '${key}': it kept changing hands`);
  }

  async complete(
    scope: string,
    key: string,
    response: StoredIdempotentResponse,
    subjects: readonly string[] = [],
  ): Promise<void> {
    const s = this.#database.schema;
    const keep = (sql: Sql) =>
      sql.query(
        `WITH kept AS (
           UPDATE ${s}.idempotency_keys AS k
           SET status = 'done', response = $3::text::json, subjects = $4::text[]
           WHERE scope = $1 AND key = $2 AND status = 'pending'
             AND NOT EXISTS (SELECT FROM ${s}.erasures e
                             WHERE e.subject = ANY ($4::text[])
                               AND (e.erased_at >= k.created_at
                                    OR NOT EXISTS (SELECT FROM ${s}.personal_keys p WHERE p.subject = e.subject)))
           RETURNING 1
         )
         DELETE FROM ${s}.idempotency_keys
         WHERE scope = $1 AND key = $2 AND status = 'pending' AND NOT EXISTS (SELECT FROM kept)`,
        [scope, key, JSON.stringify(response), subjects.length === 0 ? null : subjects],
        prepared,
      );
    // Kept unless one of its subjects was forgotten since the claim: then the pending record goes instead, and a
    // repeat runs again rather than replay an answer holding their data. (A statement's two changes to one row:
    // the DELETE leaves the row alone when the UPDATE changed it.)
    if (subjects.length === 0) return void (await keep(this.#database));
    // An erasure still open when the answer is kept would not be seen by the statement, nor would the erasure see
    // the answer (it deletes the answers kept with the subject before the statement keeps this one): so the
    // subjects' key rows are locked first. An erasure that deleted a key waits to commit, then the statement sees
    // it; one that comes later waits for this commit, then deletes the answer. And since an erasure's time is its
    // row's write, not its commit, one written before the claim but committed after is told by the key it deleted:
    // a subject with an erasure and no key was forgotten after their data was sealed.
    await this.#database.transaction(async (sql) => {
      await sql.query(
        `SELECT FROM ${s}.personal_keys WHERE subject = ANY ($1::text[]) ORDER BY subject FOR KEY SHARE`,
        [subjects],
        prepared,
      );
      await keep(sql);
    });
  }

  async release(scope: string, key: string): Promise<void> {
    await this.#database.query(
      `DELETE FROM ${this.#database.schema}.idempotency_keys
       WHERE scope = $1 AND key = $2 AND status = 'pending'`,
      [scope, key],
      prepared,
    );
  }

  /** Deletes a batch of expired records, at most once per interval (a batch keeps each delete short). */
  async #purge(): Promise<void> {
    const now = Date.now();
    if (now < this.#nextPurge) return;
    this.#nextPurge = now + this.#purgeIntervalMs;
    const s = this.#database.schema;
    await this.#database.query(
      `DELETE FROM ${s}.idempotency_keys WHERE (scope, key) IN (
         SELECT scope, key FROM ${s}.idempotency_keys WHERE expires_at <= now() LIMIT 1000
       )`,
    );
  }
}
