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
        `INSERT INTO ${s}.idempotency_keys AS k (scope, key, fingerprint, status, expires_at, claim_snapshot)
         VALUES ($1, $2, $3, 'pending', $4::timestamptz, pg_current_snapshot())
         ON CONFLICT (scope, key) DO UPDATE
           SET fingerprint = excluded.fingerprint, status = 'pending', response = NULL,
               expires_at = excluded.expires_at, created_at = now(), subjects = NULL,
               claim_snapshot = excluded.claim_snapshot
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
    // Never left pending: a key still pending when this fails would answer "in progress" to every repeat until it
    // expires. Tried once more (a deadlock or a serialization failure, say, is gone the second time), then the
    // claim is released, best effort, so that a repeat runs the request again; and the error goes up.
    let failure: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await this.#complete(scope, key, response, subjects);
      } catch (error) {
        failure = error;
      }
    }
    await this.release(scope, key).catch(() => {});
    throw failure;
  }

  /**
   * Keeps the answer unless one of its personal-data subjects was forgotten since the claim: then the pending
   * record goes instead, and a repeat runs again rather than replay an answer holding their data.
   *
   * An erasure and a completion naming the same subject serialize on an advisory lock of the subject's (see
   * `subjectLock`): the erasure (`Protection.forget`) takes it exclusive before it touches anything and holds it to
   * its commit; this takes it shared, so that the statement keeping the answer, which comes after, sees every
   * erasure of its subjects committed before it, and an erasure that comes later waits for this commit and then
   * deletes the answer. Whether the subject has a data key does not matter (one named but never sealed, or already
   * forgotten, is covered too).
   *
   * No deadlock, whatever order an erasure takes its subjects in (several in one transaction, in the caller's
   * order) and whatever it deletes (a principal's answers, pending ones among them): this never waits while holding
   * anything. The record's row is locked first, holding nothing else (an erasure deleting it makes this wait for
   * its end, and then finds it gone); the subjects' locks are then only tried, none waited for; when one is held
   * by an erasure still open, the transaction ends, and this waits for that lock alone before trying again.
   *
   * Round trips: one without subjects; with them, four (BEGIN, the locks, the statement keeping the answer,
   * COMMIT), as with the key rows' locks this replaced; plus a wait and four more each time an erasure of one of
   * them is open.
   */
  async #complete(
    scope: string,
    key: string,
    response: StoredIdempotentResponse,
    subjects: readonly string[],
  ): Promise<void> {
    const s = this.#database.schema;
    // An answer naming no subject (nearly every one) is kept as it is: no erasure can drop it.
    if (subjects.length === 0) {
      await this.#database.query(
        `UPDATE ${s}.idempotency_keys SET status = 'done', response = $3::text::json
         WHERE scope = $1 AND key = $2 AND status = 'pending'`,
        [scope, key, JSON.stringify(response)],
        prepared,
      );
      return;
    }
    // The erasures of its subjects that had not committed when the command was claimed: the command may have read
    // their data, so the answer is dropped, and counted among what each of them reached (their rows locked in one
    // order, so that two answers dropped at once cannot deadlock). One committed before the claim is not among
    // them: the command could not read the subject's data, whether they have a key again or not. (Records
    // claimed, or erasures written, before the claim's snapshot was kept: an erasure written since the claim, or a
    // subject with an erasure and no key, as before; the latter also drops answers naming a subject forgotten long
    // before.) A statement's changes to one row: the DELETE leaves it alone when the UPDATE changed it.
    const keep = (sql: Sql) =>
      sql.query(
        `WITH erasing AS MATERIALIZED (
           SELECT e.id, e.xid FROM ${s}.erasures e, ${s}.idempotency_keys k
           WHERE k.scope = $1 AND k.key = $2 AND k.status = 'pending' AND e.subject = ANY ($4::text[])
             AND CASE WHEN e.xid IS NOT NULL AND k.claim_snapshot IS NOT NULL
                      THEN NOT pg_visible_in_snapshot(e.xid, k.claim_snapshot)
                      ELSE e.erased_at >= k.created_at
                           OR NOT EXISTS (SELECT FROM ${s}.personal_keys p WHERE p.subject = e.subject) END
         ), kept AS (
           UPDATE ${s}.idempotency_keys
           SET status = 'done', response = $3::text::json, subjects = $4::text[]
           WHERE scope = $1 AND key = $2 AND status = 'pending' AND NOT EXISTS (SELECT FROM erasing)
           RETURNING 1
         ), dropped AS (
           DELETE FROM ${s}.idempotency_keys
           WHERE scope = $1 AND key = $2 AND status = 'pending' AND NOT EXISTS (SELECT FROM kept)
           RETURNING 1
         )
         UPDATE ${s}.erasures SET responses = responses + 1
         WHERE id IN (SELECT x.id FROM ${s}.erasures x WHERE x.id IN (SELECT id FROM erasing WHERE xid IS NOT NULL)
                      ORDER BY x.id FOR UPDATE)
           AND EXISTS (SELECT FROM dropped)`,
        [scope, key, JSON.stringify(response), subjects],
        prepared,
      );
    const locks = [...new Set(subjects)].sort().map((subject) => subjectLock(this.#database, subject));
    for (let round = 0; ; round++) {
      const blocked = await this.#database.transaction(async (sql) => {
        // The row first, then the subjects' locks tried: a correlated subquery runs once the row is locked.
        const { rows } = await sql.query<{ blocked: string[] }>(
          `WITH pending AS MATERIALIZED (
             SELECT 1 AS one FROM ${s}.idempotency_keys
             WHERE scope = $1 AND key = $2 AND status = 'pending' FOR UPDATE
           )
           SELECT ARRAY(SELECT l FROM unnest($3::text[]) WITH ORDINALITY AS u (l, n)
                        WHERE p.one = 1 AND NOT pg_try_advisory_xact_lock_shared(hashtextextended(l, 0))
                        ORDER BY n) AS blocked
           FROM pending AS p`,
          [scope, key, locks],
          prepared,
        );
        const row = rows[0];
        if (row === undefined) return undefined; // no longer pending: released, expired, or an erasure deleted it
        if (row.blocked.length > 0) return row.blocked[0] as string;
        await keep(sql);
        return undefined;
      });
      if (blocked === undefined) return;
      // Erasures of its subjects, one after another, for so long: one of them is open now, which would drop it.
      if (round === 2) return this.release(scope, key);
      // Waited for outside any transaction, holding nothing else: granted once the erasure ends, and let go at once.
      await this.#database.query(
        'SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))',
        [blocked],
        prepared,
      );
    }
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

/**
 * The text whose hash names a subject's advisory lock, which an erasure takes exclusive and the keeping of an
 * answer naming the subject shared. `Protection.forget` takes it by this name too.
 */
export function subjectLock(database: Pick<Database, 'schemaName'>, subject: string): string {
  return `myelin.subject:${database.schemaName}:${subject}`;
}
