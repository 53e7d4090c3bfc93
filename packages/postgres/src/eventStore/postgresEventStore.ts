import {
  type AppendResult,
  ConcurrencyError,
  DataKeyGoneError,
  type EventStore,
  type ExpectedVersion,
  keyIdsOf,
  logPosition,
  type NewEvent,
  positionParts,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  startOfLog,
  token,
  type Upcast,
  type Upcaster,
  upcasting,
} from '@myelin/core';
import { constraintOf, type Database, prepared, type Sql, sqlState } from '../database/database.ts';
import { type PersonalDataOptions, Protection } from '../personalData/protection.ts';
import { logSignal } from '../subscriptions/logSignal.ts';

export interface PostgresEventStoreOptions {
  /** Turn old versions of events into the current shape when read. */
  readonly upcasters?: readonly Upcaster[];
  /**
   * The master key protecting personal data: sealed on append, opened on read. Without it, appending an event
   * that declares personal data fails, and so does reading a sealed one.
   */
  readonly personalData?: PersonalDataOptions;
  /** @internal The application's protection, shared with its unit of work (instead of `personalData`). */
  readonly protection?: Protection;
}

/** How the application's upcasters turn stored events into their current shape (identity without upcasters). */
export const PostgresUpcasting = token<Upcast>('PostgresUpcasting');

/** What an append wrote, with the stored events (for the unit of work's commit result). */
export interface Appended extends AppendResult {
  readonly events: readonly StoredEvent[];
}

/**
 * The columns of a stored event, read the same way from both drivers (bigint and xid8 as text). The time comes as
 * milliseconds since the epoch (what a `Date` holds): parsing the timestamp's text (pg's date parser and its
 * regular expression) was 9% of a projection's catch-up CPU in a profile.
 */
export function eventColumns(table = ''): string {
  const t = table === '' ? '' : `${table}.`;
  return `${t}transaction_id::text AS tx, ${t}sequence::text AS seq, ${t}event_id, ${t}stream_id, ${t}stream_version,
    ${t}type, ${t}type_version, ${t}data, floor(extract(epoch FROM ${t}occurred_at) * 1000)::float8 AS occurred_at,
    ${t}correlation_id, ${t}causation_id, ${t}causation_type, ${t}principal, ${t}traceparent, ${t}tracestate`;
}

export interface EventRow {
  readonly tx: string;
  readonly seq: string;
  readonly event_id: string;
  readonly stream_id: string;
  readonly stream_version: number;
  readonly type: string;
  readonly type_version: number;
  readonly data: unknown;
  /** Milliseconds since the epoch. */
  readonly occurred_at: number;
  readonly correlation_id: string;
  readonly causation_id: string | null;
  readonly causation_type: string | null;
  readonly principal: string | null;
  readonly traceparent: string | null;
  readonly tracestate: string | null;
}

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    data: row.data,
    metadata: {
      eventId: row.event_id,
      type: row.type,
      version: row.type_version,
      occurredAt: new Date(row.occurred_at),
      correlationId: row.correlation_id,
      causationId: row.causation_id ?? undefined,
      ...(row.causation_type ? { causationType: row.causation_type } : {}),
      principal: row.principal ?? undefined,
      ...(row.traceparent ? { traceparent: row.traceparent } : {}),
      ...(row.tracestate ? { tracestate: row.tracestate } : {}),
    },
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    position: logPosition(row.tx, row.seq),
  };
}

/**
 * The event store on PostgreSQL or PGlite. An append is one statement: it skips events whose ids are stored
 * already (so a retried append does not duplicate), moves the stream's version under the expected-version check,
 * and inserts the events into the log, all or nothing. The log is read in (transaction, sequence) order and only
 * below the oldest transaction still running, so an event that commits late is never passed over.
 */
export class PostgresEventStore implements EventStore {
  readonly database: Database;
  readonly #upcast: (event: StoredEvent) => StoredEvent;
  readonly #protection: Protection;

  constructor(database: Database, options: PostgresEventStoreOptions = {}) {
    this.database = database;
    this.#upcast = upcasting(options.upcasters ?? []);
    this.#protection = options.protection ?? new Protection(database, options.personalData);
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion: ExpectedVersion = 'any',
  ): Promise<AppendResult> {
    const { database } = this;
    const { schema } = database;
    for (let attempt = 1; ; attempt++) {
      const sealed = await this.#protection.seal(events);
      try {
        // An append is atomic, so when one of its event ids is stored already it writes nothing: then the append
        // is a retry (a no-op) or carries some new events, which are appended on their own.
        const { nextVersion, lastPosition } = await appendToStream(
          database,
          schema,
          streamId,
          sealed,
          expectedVersion,
        ).catch((error: unknown) =>
          isDuplicate(error)
            ? settle(database, schema, streamId, sealed, expectedVersion)
            : Promise.reject(error),
        );
        logSignal(database).committed(lastPosition);
        return { nextVersion, lastPosition };
      } catch (error) {
        // A subject forgotten since the events were sealed: sealed again, with the subject's new key.
        if (!(error instanceof DataKeyGoneError) || attempt === 3) throw error;
        this.#protection.forgotten(undefined, error.keyIds);
      }
    }
  }

  /** Stored events as readers see them: personal data opened (or placeholders), then upcast. */
  async #read(events: readonly StoredEvent[]): Promise<readonly StoredEvent[]> {
    return (await this.#protection.reveal(events)).map(this.#upcast);
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly StoredEvent[]> {
    const backwards = options.direction === 'backwards';
    const { rows } = await this.database.query<EventRow>(
      `SELECT ${eventColumns()} FROM ${this.database.schema}.events
       WHERE stream_id = $1 AND stream_version ${backwards ? '<=' : '>='} $2
       ORDER BY stream_version ${backwards ? 'DESC' : 'ASC'} LIMIT $3`,
      [streamId, options.from ?? (backwards ? 2147483647 : 1), options.limit ?? null],
      prepared,
    );
    return this.#read(rows.map(toStoredEvent));
  }

  async readAll(options: ReadAllOptions = {}): Promise<readonly StoredEvent[]> {
    const { transaction, sequence } = positionParts(options.after ?? startOfLog);
    const { rows } = await this.database.query<EventRow>(
      `SELECT ${eventColumns()} FROM ${this.database.schema}.events
       WHERE (transaction_id, sequence) > ($1::text::xid8, $2::bigint)
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY transaction_id, sequence LIMIT $3`,
      [transaction, sequence, options.limit ?? null],
      prepared,
    );
    return this.#read(rows.map(toStoredEvent));
  }
}

/** True when an append lost a race on a unique key of the log (an event id, or a stream version). */
export function isDuplicate(error: unknown): boolean {
  return sqlState(error) === '23505' && (constraintOf(error)?.startsWith('events_') ?? false);
}

const statements = new Map<string, string>();

/** Whether an append's events carry sealed personal data: none, under one data key, or under several. */
type Sealing = false | 'one key' | 'keys';

/**
 * The append statement for a schema and a kind of expected version, built once. $1 is the stream, $2 the events as
 * a JSON array, $3 how many there are and, for an exact expected version, $4 that version. The stream's row moves
 * first and the events are inserted only when it did, so zero rows back means nothing was written (a stale
 * version, or a retry of an append that succeeded). An event id stored already fails the statement on the log's
 * unique index, writing nothing: no probe is needed, which keeps the statement as cheap as the hand-written one.
 */
function appendStatement(
  schema: string,
  expected: 'new' | 'exact' | 'any',
  single: boolean,
  sealed: Sealing,
): string {
  const key = `${schema}:${expected}:${single}:${sealed}`;
  let text = statements.get(key);
  if (text !== undefined) return text;
  // Events with sealed personal data are written only if every key they were sealed with still exists, so that
  // a process whose cache kept a forgotten subject's key never writes with it (the commit is sealed again). No
  // row lock: taking one cost PostgreSQL 15-20 µs per event (a WAL record and a dirtied page per append), and an
  // event appended while its subject is being forgotten is forgotten with them (its key is gone at commit); a
  // read model written in the same transaction reads its keys in share mode (see Protection.reveal), so the
  // erasure's hooks wait for it. The ids are the statement's last parameter: one key (what nearly every append
  // has, its events being one subject's) as a scalar. As an array, PostgreSQL planned the statement again at every
  // execution (a plan for a known array length looked cheaper than the generic one), which cost it about 10 µs
  // per event of ten-event appends.
  const last = `$${(single ? 10 : 0) + (expected === 'exact' ? 4 : 3) + 1}`;
  const guard =
    sealed === 'one key'
      ? `EXISTS (SELECT FROM ${schema}.personal_keys WHERE id = ${last}::text)`
      : sealed === 'keys'
        ? `(SELECT count(*) FROM ${schema}.personal_keys WHERE id = ANY (${last}::text[])) = cardinality(${last}::text[])`
        : 'true';
  const stream =
    expected === 'exact'
      ? `UPDATE ${schema}.streams SET version = $4 + $3 WHERE stream_id = $1 AND version = $4
         ${sealed ? `AND ${guard}` : ''} RETURNING version`
      : `INSERT INTO ${schema}.streams AS s (stream_id, version)
         ${sealed ? `SELECT $1::text, $3::integer WHERE ${guard}` : 'VALUES ($1, $3)'}
         ON CONFLICT (stream_id) DO ${expected === 'new' ? 'NOTHING' : 'UPDATE SET version = s.version + EXCLUDED.version'}
         RETURNING version`;
  // One event (what most commands append) goes as parameters of its own, after the expected version: no JSON
  // array to build in the process and to take apart in the database. JSON parameters are cast to jsonb straight
  // from the text the drivers send (both pass a string through as is): through `::text` first, PostgreSQL
  // converts it twice, which cost about 5 µs of database CPU per event with 16 writers appending ten events at a
  // time, most of what separated Myelin from the raw twin there.
  //
  // Several events are inserted in the order jsonb_to_recordset gives them, the array's: a function scan returns
  // the rows its function produced in that order, and the log's sequence is drawn for each as it comes, so the
  // log holds them in stream order. No ORDER BY: its sort held a second copy of every row, which took a sealed
  // ten-event append's memory over what glibc keeps between statements, so that each backend grew its heap and
  // gave it back (brk, page faults and TLB flushes) at every append: 30-40 µs of PostgreSQL's CPU per sealed
  // event with 16 writers (bench/src/append's protected case, 0.59 -> 0.72 of the clear appends). The order
  // is checked on what the statement returns (see appendToStream).
  const p = (i: number) => `$${(expected === 'exact' ? 4 : 3) + i}`;
  const rows = single
    ? `SELECT ${p(1)}, $1, stream.version, ${p(2)}, ${p(3)}::int, $2::jsonb, ${p(4)}::timestamptz, ${p(5)},
         ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}, ${p(10)} FROM stream`
    : `SELECT e.id, $1, stream.version - $3 + e.i, e.type, e.v, e.data, e.at, e.corr, e.cause, e.ct, e.who, e.tp,
      e.ts
    FROM stream, jsonb_to_recordset($2::jsonb)
      AS e(i int, id text, type text, v int, data jsonb, at timestamptz, corr text, cause text, ct text, who text,
        tp text, ts text)`;
  text = `WITH stream AS (${stream})
    INSERT INTO ${schema}.events
      (event_id, stream_id, stream_version, type, type_version, data, occurred_at, correlation_id, causation_id,
       causation_type, principal, traceparent, tracestate)
    ${rows}
    RETURNING transaction_id::text AS tx, sequence::text AS seq, stream_version`;
  statements.set(key, text);
  return text;
}

/**
 * Appends events to a stream in one statement, through `sql` (the database, or the unit of work's transaction).
 * @internal
 */
export async function appendToStream(
  sql: Sql,
  schema: string,
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
): Promise<Appended> {
  if (events.length === 0) {
    return {
      nextVersion: (await streamVersion(sql, schema, streamId)) ?? 0,
      lastPosition: startOfLog,
      events: [],
    };
  }
  const kind =
    expectedVersion === 'any'
      ? 'any'
      : expectedVersion === 'no_stream' || expectedVersion === 0
        ? 'new'
        : 'exact';
  const single = events.length === 1;
  const head = kind === 'exact' ? [events.length, expectedVersion] : [events.length];
  let params: unknown[];
  if (single) {
    const { data, metadata } = events[0] as NewEvent;
    params = [
      streamId,
      JSON.stringify(data),
      ...head,
      metadata.eventId,
      metadata.type,
      metadata.version,
      metadata.occurredAt,
      metadata.correlationId,
      metadata.causationId ?? null,
      metadata.causationType ?? null,
      metadata.principal ?? null,
      metadata.traceparent ?? null,
      metadata.tracestate ?? null,
    ];
  } else {
    const payload = events.map(({ data, metadata }, i) => ({
      i: i + 1,
      id: metadata.eventId,
      type: metadata.type,
      v: metadata.version,
      data,
      at: metadata.occurredAt,
      corr: metadata.correlationId,
      cause: metadata.causationId ?? null,
      ct: metadata.causationType ?? null,
      who: metadata.principal ?? null,
      tp: metadata.traceparent ?? null,
      ts: metadata.tracestate ?? null,
    }));
    params = [streamId, JSON.stringify(payload), ...head];
  }
  const keyIds = keyIdsOf(events);
  const sealed: Sealing = keyIds.length === 0 ? false : keyIds.length === 1 ? 'one key' : 'keys';
  if (sealed) params.push(sealed === 'one key' ? keyIds[0] : keyIds);
  const { rows } = await sql.query<{ tx: string; seq: string; stream_version: number }>(
    appendStatement(schema, kind, single, sealed),
    params,
    prepared,
  );
  if (rows.length === 0) {
    if (sealed) await keysStillThere(sql, schema, keyIds);
    return settle(sql, schema, streamId, events, expectedVersion);
  }
  // Rows come back in insertion order, which is the events' order, each at the next version and a later place in
  // the log, one per event. Checked, since it is the executor's order rather than SQL's promise: a log whose order
  // within a transaction differed from its streams' would feed projections their events out of order.
  if (rows.length !== events.length) {
    throw new Error(`The append to ${streamId} returned ${rows.length} rows for ${events.length} events`);
  }
  const stored = events.map((event, i): StoredEvent => {
    const row = rows[i] as (typeof rows)[number];
    const previous = rows[i - 1];
    if (
      previous !== undefined &&
      (row.stream_version !== previous.stream_version + 1 || BigInt(row.seq) <= BigInt(previous.seq))
    ) {
      throw new Error(
        `The append to ${streamId} was stored out of order: version ${row.stream_version} at ${row.tx}.${row.seq} after ${previous.stream_version} at ${previous.tx}.${previous.seq}`,
      );
    }
    return { ...event, streamId, streamVersion: row.stream_version, position: logPosition(row.tx, row.seq) };
  });
  const last = stored.at(-1) as StoredEvent;
  return { nextVersion: last.streamVersion, lastPosition: last.position, events: stored };
}

/** Throws a DataKeyGoneError when some of these data keys were deleted: an append sealed with them wrote nothing. */
export async function keysStillThere(sql: Sql, schema: string, keyIds: readonly string[]): Promise<void> {
  const { rows } = await sql.query<{ id: string }>(
    `SELECT id FROM ${schema}.personal_keys WHERE id = ANY ($1::text[])`,
    [keyIds],
  );
  if (rows.length < keyIds.length) {
    const found = new Set(rows.map((row) => row.id));
    throw new DataKeyGoneError(keyIds.filter((id) => !found.has(id)));
  }
}

/**
 * Nothing was written: the version was wrong, or some event ids are stored already. When every id is stored, the
 * append is a retry of one that succeeded, and succeeds; when some are, the others are appended on their own.
 */
async function settle(
  sql: Sql,
  schema: string,
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
): Promise<Appended> {
  const ids = JSON.stringify(events.map((event) => event.metadata.eventId));
  const { rows: known } = await sql.query<{ event_id: string; tx: string; seq: string }>(
    `SELECT event_id, transaction_id::text AS tx, sequence::text AS seq FROM ${schema}.events
       WHERE event_id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))`,
    [ids],
  );
  if (known.length === 0) {
    throw new ConcurrencyError(streamId, expectedVersion, await streamVersion(sql, schema, streamId));
  }
  const stored = new Set(known.map((row) => row.event_id));
  const rest = events.filter((event) => !stored.has(event.metadata.eventId));
  if (rest.length > 0) return appendToStream(sql, schema, streamId, rest, expectedVersion);
  const last = known.find(
    (row) => row.event_id === events.at(-1)?.metadata.eventId,
  ) as (typeof known)[number];
  return {
    nextVersion: (await streamVersion(sql, schema, streamId)) ?? 0,
    lastPosition: logPosition(last.tx, last.seq),
    events: [],
  };
}

export async function streamVersion(sql: Sql, schema: string, streamId: string): Promise<number | undefined> {
  const { rows } = await sql.query<{ version: number }>(
    `SELECT version FROM ${schema}.streams WHERE stream_id = $1`,
    [streamId],
    prepared,
  );
  return rows[0]?.version;
}
