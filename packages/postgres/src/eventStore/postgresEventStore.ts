import {
  type AppendResult,
  ConcurrencyError,
  type EventStore,
  type ExpectedVersion,
  logPosition,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  startOfLog,
  token,
  type Upcaster,
  upcasting,
} from '@myelin/core';
import { constraintOf, type Database, type Sql, sqlState } from '../database/database.ts';

export interface PostgresEventStoreOptions {
  /** Turn old versions of events into the current shape when read. */
  readonly upcasters?: readonly Upcaster[];
}

/** How the application's upcasters turn stored events into their current shape (identity without upcasters). */
export const PostgresUpcasting = token<(event: StoredEvent) => StoredEvent>('PostgresUpcasting');

/** What an append wrote, with the stored events (for the unit of work's commit result). */
export interface Appended extends AppendResult {
  readonly events: readonly StoredEvent[];
}

/** The columns of a stored event, read the same way from both drivers (bigint and xid8 as text). */
export function eventColumns(table = ''): string {
  const t = table === '' ? '' : `${table}.`;
  return `${t}transaction_id::text AS tx, ${t}sequence::text AS seq, ${t}event_id, ${t}stream_id, ${t}stream_version,
    ${t}type, ${t}type_version, ${t}data, ${t}occurred_at, ${t}correlation_id, ${t}causation_id, ${t}principal`;
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
  readonly occurred_at: Date;
  readonly correlation_id: string;
  readonly causation_id: string | null;
  readonly principal: string | null;
}

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    data: row.data,
    metadata: {
      eventId: row.event_id,
      type: row.type,
      version: row.type_version,
      occurredAt: row.occurred_at,
      correlationId: row.correlation_id,
      causationId: row.causation_id ?? undefined,
      principal: row.principal ?? undefined,
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
  readonly #read: (event: StoredEvent) => StoredEvent;

  constructor(database: Database, options: PostgresEventStoreOptions = {}) {
    this.database = database;
    this.#read = upcasting(options.upcasters ?? []);
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion: ExpectedVersion = 'any',
  ): Promise<AppendResult> {
    const attempt = async (): Promise<AppendResult> => {
      const { database } = this;
      const { nextVersion, lastPosition } = await appendToStream(
        database,
        database.schema,
        streamId,
        events,
        expectedVersion,
      );
      return { nextVersion, lastPosition };
    };
    // A concurrent append of the same event ids can win the race: then the retry finds them and is a no-op.
    return attempt().catch((error: unknown) => (isDuplicate(error) ? attempt() : Promise.reject(error)));
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly StoredEvent[]> {
    const backwards = options.direction === 'backwards';
    const { rows } = await this.database.query<EventRow>(
      `SELECT ${eventColumns()} FROM ${this.database.schema}.events
       WHERE stream_id = $1 AND stream_version ${backwards ? '<=' : '>='} $2
       ORDER BY stream_version ${backwards ? 'DESC' : 'ASC'} LIMIT $3`,
      [streamId, options.from ?? (backwards ? 2147483647 : 1), options.limit ?? null],
    );
    return rows.map((row) => this.#read(toStoredEvent(row)));
  }

  async readAll(options: ReadAllOptions = {}): Promise<readonly StoredEvent[]> {
    const [transaction, sequence] = (options.after ?? startOfLog).split('.');
    const { rows } = await this.database.query<EventRow>(
      `SELECT ${eventColumns()} FROM ${this.database.schema}.events
       WHERE (transaction_id, sequence) > ($1::text::xid8, $2::bigint)
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY transaction_id, sequence LIMIT $3`,
      [transaction, sequence, options.limit ?? null],
    );
    return rows.map((row) => this.#read(toStoredEvent(row)));
  }
}

/** True when an append lost a race on a unique key of the log (an event id, or a stream version). */
export function isDuplicate(error: unknown): boolean {
  return sqlState(error) === '23505' && (constraintOf(error)?.startsWith('events_') ?? false);
}

const statements = new Map<string, string>();

/** The append statement for a schema and a kind of expected version, built once. */
function appendStatement(schema: string, expected: 'new' | 'exact' | 'any'): string {
  const key = `${schema}:${expected}`;
  let text = statements.get(key);
  if (text !== undefined) return text;
  const stream =
    expected === 'exact'
      ? `UPDATE ${schema}.streams SET version = version + (SELECT count(*)::int FROM input)
         WHERE stream_id = $1 AND version = $3 AND EXISTS (SELECT FROM input) RETURNING version`
      : `INSERT INTO ${schema}.streams AS s (stream_id, version)
         SELECT $1, count(*)::int FROM input HAVING count(*) > 0
         ON CONFLICT (stream_id) DO ${expected === 'new' ? 'NOTHING' : 'UPDATE SET version = s.version + EXCLUDED.version'}
         RETURNING version`;
  text = `WITH input AS (
      SELECT e.*, row_number() OVER (ORDER BY e.i)::int AS k, count(*) OVER ()::int AS n
      FROM jsonb_to_recordset($2::text::jsonb)
        AS e(i int, id text, type text, v int, data jsonb, at timestamptz, corr text, cause text, who text)
      -- A lateral probe per event, not NOT EXISTS: the planner guesses 100 rows for the function and would hash
      -- the whole log to anti-join it, making every append slower as the log grows.
      LEFT JOIN LATERAL (SELECT true AS stored FROM ${schema}.events x WHERE x.event_id = e.id LIMIT 1) d ON true
      WHERE d.stored IS NULL
    ), stream AS (${stream})
    INSERT INTO ${schema}.events
      (event_id, stream_id, stream_version, type, type_version, data, occurred_at, correlation_id, causation_id, principal)
    SELECT input.id, $1, stream.version - input.n + input.k, input.type, input.v, input.data, input.at,
      input.corr, input.cause, input.who
    FROM input CROSS JOIN stream ORDER BY input.k
    RETURNING event_id, transaction_id::text AS tx, sequence::text AS seq, stream_version`;
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
  const payload = JSON.stringify(
    events.map(({ data, metadata }, i) => ({
      i,
      id: metadata.eventId,
      type: metadata.type,
      v: metadata.version,
      data,
      at: metadata.occurredAt,
      corr: metadata.correlationId,
      cause: metadata.causationId ?? null,
      who: metadata.principal ?? null,
    })),
  );
  const kind =
    expectedVersion === 'any'
      ? 'any'
      : expectedVersion === 'no_stream' || expectedVersion === 0
        ? 'new'
        : 'exact';
  const params = kind === 'exact' ? [streamId, payload, expectedVersion] : [streamId, payload];
  const { rows } = await sql.query<{ event_id: string; tx: string; seq: string; stream_version: number }>(
    appendStatement(schema, kind),
    params,
  );
  if (rows.length === 0) return settle(sql, schema, streamId, events, expectedVersion);
  rows.sort((a, b) => a.stream_version - b.stream_version);
  const byId =
    events.length === rows.length ? undefined : new Map(events.map((e) => [e.metadata.eventId, e]));
  const stored = rows.map(
    (row, i): StoredEvent => ({
      ...((byId === undefined ? events[i] : byId.get(row.event_id)) as NewEvent),
      streamId,
      streamVersion: row.stream_version,
      position: logPosition(row.tx, row.seq),
    }),
  );
  const last = stored.at(-1) as StoredEvent;
  return { nextVersion: last.streamVersion, lastPosition: last.position, events: stored };
}

/** Nothing was written: either every event was stored already (a retry, which succeeds) or the version was wrong. */
async function settle(
  sql: Sql,
  schema: string,
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
): Promise<Appended> {
  const ids = JSON.stringify(events.map((event) => event.metadata.eventId));
  const version = await streamVersion(sql, schema, streamId);
  const { rows: known } = await sql.query<{ event_id: string; tx: string; seq: string }>(
    `SELECT event_id, transaction_id::text AS tx, sequence::text AS seq FROM ${schema}.events
       WHERE event_id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))`,
    [ids],
  );
  if (known.length === events.length) {
    const last = known.find(
      (row) => row.event_id === events.at(-1)?.metadata.eventId,
    ) as (typeof known)[number];
    return { nextVersion: version ?? 0, lastPosition: logPosition(last.tx, last.seq), events: [] };
  }
  throw new ConcurrencyError(streamId, expectedVersion, version);
}

/** A stream's version, or undefined when it does not exist. @internal */
export async function streamVersion(sql: Sql, schema: string, streamId: string): Promise<number | undefined> {
  const { rows } = await sql.query<{ version: number }>(
    `SELECT version FROM ${schema}.streams WHERE stream_id = $1`,
    [streamId],
  );
  return rows[0]?.version;
}
