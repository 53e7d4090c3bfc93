// Personal data on PostgreSQL: data keys in `personal_keys`, sealing on append, opening on read, and forgetting.
// Every reader of the log (projections, the relay's handlers, repositories, the event store's reads) goes through
// `reveal`; every writer through `seal`. See @myelin/core's personalDataCipher.ts for the envelope.
import {
  anyPersonalDataDeclared,
  checkForget,
  clearQueryCaches,
  type DataKeyStore,
  personalDataOf as declaredPersonalData,
  type Erasure,
  envelopeOf,
  type ForgetOptions,
  type MasterKeyOptions,
  type NewEvent,
  type PersonalData,
  PersonalDataCipher,
  type Projection,
  principalScope,
  type StoredDataKey,
  type StoredEvent,
  token,
  type Upcast,
} from '@myelin/core';
import type { Connection, Database, Sql } from '../database/database.ts';
import { channelOf, prepared } from '../database/database.ts';
import { subjectLock } from '../idempotency/postgresIdempotencyStore.ts';
import { erasingModel } from '../projections/readModels.ts';
import type { PostgresUnitOfWork } from '../unitOfWork/postgresUnitOfWork.ts';
import { nodeAesGcm } from './nodeAesGcm.ts';

/**
 * How personal data is protected: the master key wrapping the data keys (and those it replaced, see
 * `MasterKeyOptions` and `rewrapDataKeys`), and how many unwrapped keys to cache.
 */
export interface PersonalDataOptions extends MasterKeyOptions {
  /** Unwrapped data keys kept in memory; defaults to 10,000. */
  readonly cacheSize?: number;
}

interface KeyRow {
  readonly id: string;
  readonly subject: string;
  readonly wrapped: string;
  readonly master_key: string;
}

/** The session on which a process hears erasures, and the timer that opens it again once lost. */
interface Hearing {
  connection: Connection | undefined;
  retry: NodeJS.Timeout | undefined;
}

/** Seals, opens and forgets personal data in one schema. One per application (a singleton). */
export class Protection {
  readonly #database: Database;
  readonly #cipher: PersonalDataCipher | undefined;
  /** The ids of the master keys given: the current one first. */
  readonly #masterKeyIds: readonly string[];
  /** The session hearing other processes' erasures, while `hearErasures` runs; undefined once closed. */
  #hearing: Hearing | undefined;

  constructor(database: Database, options: PersonalDataOptions | undefined) {
    this.#database = database;
    this.#cipher =
      options === undefined
        ? undefined
        : new PersonalDataCipher(options.masterKey, {
            aesGcm: nodeAesGcm,
            ...(options.previousMasterKeys === undefined
              ? {}
              : { previousMasterKeys: options.previousMasterKeys }),
            ...(options.cacheSize === undefined ? {} : { cacheSize: options.cacheSize }),
          });
    this.#masterKeyIds =
      options === undefined
        ? []
        : [options.masterKey.id, ...(options.previousMasterKeys ?? []).map((key) => key.id)];
  }

  /**
   * Refuses to start a process given master keys that cannot open every data key: one dropped before its data
   * keys were rewrapped (or never given) would otherwise surface request by request, as an error reading an
   * older subject's events. Reads each distinct master key id once through the index (a loose scan: as many
   * probes as there are master keys, not a row per subject). A process given no master key opens nothing and
   * is not asked.
   */
  async checkMasterKeys(): Promise<void> {
    if (this.#cipher === undefined) return;
    const s = this.#database.schema;
    const { rows } = await this.#database.query<{ master_key: string; keys: number }>(
      `WITH RECURSIVE used (id) AS (
         (SELECT master_key FROM ${s}.personal_keys ORDER BY master_key LIMIT 1)
         UNION ALL
         SELECT (SELECT k.master_key FROM ${s}.personal_keys AS k WHERE k.master_key > used.id
                 ORDER BY k.master_key LIMIT 1)
         FROM used WHERE used.id IS NOT NULL
       )
       SELECT used.id AS master_key,
              (SELECT count(*)::integer FROM ${s}.personal_keys AS k WHERE k.master_key = used.id) AS keys
       FROM used WHERE used.id IS NOT NULL AND used.id <> ALL ($1::text[])
       ORDER BY used.id`,
      [this.#masterKeyIds],
    );
    if (rows.length > 0) throw new MissingMasterKeyError(rows, this.#masterKeyIds);
  }

  /**
   * The events with their personal fields sealed, keys made for subjects who have none (each in a statement of
   * its own, outside the caller's transaction: a key nobody used yet harms nothing).
   */
  async seal<
    TEvent extends { readonly data: unknown; readonly metadata: { readonly type: string } } = NewEvent,
  >(events: readonly TEvent[]): Promise<readonly TEvent[]> {
    if (!PersonalDataCipher.needed(events)) return events;
    const type = events.find((event) => declaredPersonalData(event.metadata.type) !== undefined)?.metadata
      .type;
    return (
      await this.#cipherFor(`Event '${type}' declares`).seal(
        events,
        keyStore(this.#database, this.#database.schema),
      )
    ).events;
  }

  /**
   * The events with their personal fields opened (placeholders where the subject was forgotten). With `lock`,
   * inside a transaction that writes what it read (a projection's batch), the keys' rows are held in share mode
   * until it commits, so that forgetting a subject waits for it and its erasure hooks then see what it wrote.
   */
  async reveal<TEvent extends { readonly data: unknown; readonly metadata: { readonly type: string } }>(
    events: readonly TEvent[],
    sql: Sql = this.#database,
    lock = false,
  ): Promise<TEvent[]> {
    const sealed = events.find((event) => envelopeOf(event.data) !== undefined);
    if (sealed === undefined) return events as TEvent[];
    return this.#cipherFor(`Event '${sealed.metadata.type}' carries sealed`).reveal(
      events,
      keyStore(sql, this.#database.schema, lock),
    );
  }

  /** A value sealed whole under an existing data key (see `PersonalDataCipher.sealValue`); undefined once it is gone. */
  async sealValue(sql: Sql, keyId: string, value: unknown): Promise<unknown> {
    return this.#cipherFor('A snapshot holds').sealValue(keyId, value, keyStore(sql, this.#database.schema));
  }

  /** A value `sealValue` sealed, opened (`{ value }`), or undefined once its key is gone. */
  async openValue(sealed: unknown): Promise<{ readonly value: unknown } | undefined> {
    if (envelopeOf(sealed) === undefined) return { value: sealed };
    return this.#cipherFor('A snapshot carries sealed').openValue(
      sealed,
      keyStore(this.#database, this.#database.schema),
    );
  }

  /** The NOTIFY channel on which an erasure's commit tells every process of the schema. */
  get erasureChannel(): string {
    return channelOf(this.#database, 'erasure');
  }

  /**
   * Makes this process drop every cached query result whenever another process forgets someone (the forgetting
   * process drops its own after the commit; see `personalDataService`): a result cached here may hold the
   * forgotten subject's data, and no cache knows whose data its results hold. Hears it on a session of its own,
   * opened before this resolves. Lost, the session is opened again (after 1 s, doubling to 30 s), and the caches
   * are dropped when it is lost and again when it is back, since an erasure in between was not heard. On PGlite
   * there is no other process. A process without the master key listens too when some event type it imported
   * declares personal data (its read models hold that data in clear), or when `asked` (the persistence's
   * `hearErasures`); `asked === false`, never.
   */
  async hearErasures(asked?: boolean): Promise<void> {
    if (this.#database.engine !== 'postgres' || this.#hearing !== undefined || asked === false) return;
    // Unless asked, a process without the master key hears them when some event type it imported declares personal
    // data: its read models hold that data in clear, and its cached queries may answer it.
    if (asked !== true && this.#cipher === undefined && !anyPersonalDataDeclared()) return;
    const hearing: Hearing = { connection: undefined, retry: undefined };
    this.#hearing = hearing;
    const open = async (waitMs: number): Promise<void> => {
      hearing.retry = undefined;
      if (this.#hearing !== hearing) return;
      try {
        const connection = await this.#database.connect();
        if (this.#hearing !== hearing) return void (await connection.release());
        hearing.connection = connection;
        await connection.listen(this.erasureChannel, () => clearQueryCaches());
        clearQueryCaches();
        void connection.ended.then(() => {
          if (this.#hearing !== hearing || hearing.connection !== connection) return;
          hearing.connection = undefined;
          clearQueryCaches();
          again(1000);
        });
      } catch {
        hearing.connection?.release().catch(() => {});
        hearing.connection = undefined;
        again(Math.min(waitMs * 2, 30_000));
      }
    };
    const again = (waitMs: number) => {
      if (this.#hearing !== hearing) return;
      hearing.retry = setTimeout(() => void open(waitMs), waitMs);
      hearing.retry.unref();
    };
    await open(500);
  }

  /** Stops hearing other processes' erasures. */
  async close(): Promise<void> {
    const hearing = this.#hearing;
    this.#hearing = undefined;
    if (hearing?.retry !== undefined) clearTimeout(hearing.retry);
    await hearing?.connection?.release().catch(() => {});
  }

  /** Drops what this process cached of deleted keys. */
  forgotten(subject: string | undefined, keyIds: readonly string[]): void {
    this.#cipher?.forgotten(subject === undefined ? [] : [subject], keyIds);
  }

  /**
   * Forgets a subject through `sql` (a transaction): deletes their keys, runs the erasure hooks of the
   * projections given on every version that is not retired, and records the erasure.
   */
  async forget(
    sql: Sql,
    subject: string,
    options: ForgetOptions,
    projections: readonly Projection[],
  ): Promise<Erasure & { readonly keyIds: readonly string[] }> {
    checkForget(subject, options);
    const s = this.#database.schema;
    // The subject's lock, taken before anything is touched and held to the commit: an answer naming them is kept
    // (PostgresIdempotencyStore.complete, which takes it shared) either before, and then deleted below, or after this
    // commits, and then not kept; whether they have a key or not. The idempotency store's `subjectLock` names it.
    await sql.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      subjectLock(this.#database, subject),
    ]);
    const { rows: deleted } = await sql.query<{ id: string }>(
      `DELETE FROM ${s}.personal_keys WHERE subject = $1 RETURNING id`,
      [subject],
    );
    const keyIds = deleted.map((row) => row.id);
    const reached: string[] = [];
    const hooked = projections.filter((p) => p.erasure !== undefined);
    if (hooked.length > 0) {
      const { rows: versions } = await sql.query<{ name: string; version: number }>(
        `SELECT name, version FROM ${s}.projections WHERE name = ANY ($1::text[]) AND status <> 'retired'
         ORDER BY name, version`,
        [hooked.map((p) => p.name)],
      );
      for (const { name, version } of versions) {
        const p = hooked.find((candidate) => candidate.name === name) as Projection;
        const model = erasingModel(sql, s, p, version);
        await p.erasure?.(subject, model as never);
        await model.flush();
        reached.push(`${name} v${version}`);
      }
    }
    // The answers kept with the subject (their command wrote their personal data), and a signed-in user's own: the
    // HTTP layer scopes their idempotency keys with principalScope, then the method and URL.
    const { rowCount: responses } = await sql.query(
      `DELETE FROM ${s}.idempotency_keys
       WHERE (subjects IS NOT NULL AND subjects @> ARRAY[$1::text])
          OR ($2::text IS NOT NULL AND starts_with(scope, $2::text))`,
      [subject, options.principal === undefined ? null : principalScope(options.principal)],
    );
    const { rows } = await sql.query<{ id: string; erased_at: Date }>(
      `INSERT INTO ${s}.erasures (subject, requested_by, reason, keys, read_models, responses, xid)
       VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, pg_current_xact_id()) RETURNING id::text, erased_at`,
      [
        subject,
        options.requestedBy,
        options.reason ?? null,
        keyIds.length,
        JSON.stringify(reached),
        responses,
      ],
    );
    // Delivered at the commit, to every process of the schema (see hearErasures); a NOTIFY in a transaction waits
    // for the notification queue's lock at its commit, which an erasure, rare as it is, can afford.
    await sql.query('SELECT pg_notify($1, $2)', [this.erasureChannel, '']);
    const row = rows[0] as { id: string; erased_at: Date };
    return {
      id: row.id,
      subject,
      requestedBy: options.requestedBy,
      reason: options.reason,
      at: new Date(row.erased_at),
      keys: keyIds.length,
      readModels: reached,
      responses,
      keyIds,
    };
  }

  /** The cipher; without a master key, an error saying what needed one (`what` ends before "personal data"). */
  #cipherFor(what: string): PersonalDataCipher {
    if (this.#cipher !== undefined) return this.#cipher;
    throw new Error(
      `${what} personal data, and no master key is configured: give postgresPersistence(database, { personalData: { masterKey } })`,
    );
  }
}

/**
 * Thrown at the start of a process whose master keys cannot open every data key of the schema: it names the
 * master keys missing and how many data keys each wraps, never a key.
 */
export class MissingMasterKeyError extends Error {
  override readonly name = 'MissingMasterKeyError';
  /** The ids of the master keys that wrap data keys and were not given, with how many each wraps. */
  readonly missing: readonly { readonly masterKey: string; readonly keys: number }[];

  constructor(rows: readonly { master_key: string; keys: number }[], given: readonly string[]) {
    const named = rows.map((row) => `'${row.master_key}' (${row.keys} data key${row.keys === 1 ? '' : 's'})`);
    super(
      `Data keys are wrapped by master key${rows.length === 1 ? '' : 's'} ${named.join(', ')}, which this process is not given (it has ${given.map((id) => `'${id}'`).join(', ')}): the personal data they protect could not be read. Give ${rows.length === 1 ? 'it' : 'them'} in previousMasterKeys, then rewrap (rewrapDataKeys) before dropping ${rows.length === 1 ? 'it' : 'them'}`,
    );
    this.missing = rows.map((row) => ({ masterKey: row.master_key, keys: row.keys }));
  }
}

/** The data keys of a schema, through `sql`; with `lock`, the rows read are held in share mode. */
function keyStore(sql: Sql, schema: string, lock = false): DataKeyStore {
  const columns = 'id, subject, wrapped, master_key';
  const toKeys = (rows: readonly KeyRow[], by: 'id' | 'subject') =>
    new Map(
      rows.map((row): [string, StoredDataKey] => [
        row[by],
        { id: row.id, subject: row.subject, wrapped: fromBase64(row.wrapped), masterKey: row.master_key },
      ]),
    );
  const bySubject = async (subjects: readonly string[]) => {
    const { rows } = await sql.query<KeyRow>(
      `SELECT ${columns} FROM ${schema}.personal_keys WHERE subject = ANY ($1::text[])`,
      [subjects],
      prepared,
    );
    return toKeys(rows, 'subject');
  };
  return {
    bySubject,
    async create(keys) {
      await sql.query(
        `INSERT INTO ${schema}.personal_keys (id, subject, wrapped, master_key)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (subject) DO NOTHING`,
        [
          keys.map((key) => key.id),
          keys.map((key) => key.subject),
          keys.map((key) => Buffer.from(key.wrapped).toString('base64')),
          keys.map((key) => key.masterKey),
        ],
      );
      // A statement of its own: it sees the keys another process made first, as well as these.
      return bySubject(keys.map((key) => key.subject));
    },
    async byId(ids) {
      const { rows } = await sql.query<KeyRow>(
        `SELECT ${columns} FROM ${schema}.personal_keys WHERE id = ANY ($1::text[])${lock ? ' FOR KEY SHARE' : ''}`,
        [ids],
        prepared,
      );
      return toKeys(rows, 'id');
    },
  };
}

function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/**
 * How the log's readers that write what they read (projections, event handlers) read events: personal data opened
 * through their transaction with the keys held until it commits (see `reveal`), then upcast.
 */
export type ReadEvents = (sql: Sql, events: readonly StoredEvent[]) => Promise<readonly StoredEvent[]>;

/** The application's way of reading events for projections and event handlers. */
export const PostgresEventReading = token<ReadEvents>('PostgresEventReading');

/** Reads events through `protection`, then `upcast`. */
export function eventReading(protection: Protection, upcast: Upcast): ReadEvents {
  return async (sql, events) => (await protection.reveal(events, sql, true)).map((event) => upcast(event));
}

/** The application's protection of personal data (a singleton `postgresPersistence` registers). */
export const PostgresProtection = token<Protection>('PostgresProtection');

/**
 * The `PersonalData` of a command: forgetting enlists in its unit of work, so that the keys' deletion, the read
 * models' erasure hooks, the erasure's record and the command's own changes (the subject's documents removed,
 * say) commit together or not at all. Once committed, this process drops the keys it cached and every cached
 * query result.
 */
export function personalDataService(
  work: PostgresUnitOfWork,
  protection: Protection,
  projections: readonly Projection[],
): PersonalData {
  return {
    async forget(subject, options) {
      checkForget(subject, options);
      work.enlist(async (sql) => {
        const erasure = await protection.forget(sql, subject, options, projections);
        work.afterCommit(() => {
          protection.forgotten(subject, erasure.keyIds);
          clearQueryCaches();
        });
      });
    },
  };
}
