// The hand-written twin: the rows Myelin writes, in Myelin's own tables, with `pg` directly and one statement per
// append (autocommit, so no BEGIN or COMMIT round trips). It is the floor Myelin's event store is held to.
import { randomUUID } from 'node:crypto';
import { ConcurrencyError, isConcurrencyError, type NewEvent } from '@myelin/core';
import { migrations } from '@myelin/postgres';
import pg from 'pg';
import {
  type Appender,
  appended,
  type CommandSubject,
  connectionString,
  depositedType,
  nextStream,
  poolSize,
} from './workload.ts';

/** The twin's own schema, made with Myelin's migrations so that its tables and indexes are Myelin's. */
export const rawSchema = 'bench_raw';

// The statements are named (prepared once per connection), as Myelin prepares its own (`{ prepare: true }`), so
// that neither side pays for parsing and planning at every call.
//
// Both statements take the events as one JSON array, turned into rows by jsonb_to_recordset, and insert them only
// when the first CTE returned the stream's row: the expected-version check and the writes are one statement, so
// zero rows inserted means a version conflict and nothing was written. The stream row is the lock concurrent
// appends to one stream queue on, as in Myelin.
function appendStatements(schema: string): { readonly existing: string; readonly first: string } {
  const eventColumns = `
  INSERT INTO ${schema}.events
    (event_id, stream_id, stream_version, type, type_version, data, occurred_at, correlation_id, causation_id, principal)
  SELECT e.event_id, stream.stream_id, e.stream_version, e.type, e.type_version, e.data, e.occurred_at,
         e.correlation_id, e.causation_id, e.principal
  FROM stream, jsonb_to_recordset($3::jsonb) AS e(
    event_id text, stream_version integer, type text, type_version integer, data jsonb, occurred_at timestamptz,
    correlation_id text, causation_id text, principal text)
  RETURNING transaction_id, sequence`;
  return {
    // $1 stream, $2 its new version, $3 the events, $4 the expected version.
    existing: `
  WITH stream AS (
    UPDATE ${schema}.streams SET version = $2
    WHERE stream_id = $1 AND version = $4 AND NOT removed
    RETURNING stream_id
  )${eventColumns}`,
    // The first append to a stream: $1 stream, $2 its new version, $3 the events.
    first: `
  WITH stream AS (
    INSERT INTO ${schema}.streams (stream_id, version) VALUES ($1, $2)
    ON CONFLICT (stream_id) DO NOTHING
    RETURNING stream_id
  )${eventColumns}`,
  };
}

/** The events as the one JSON parameter, each with its version in the stream. */
function eventRows(events: readonly NewEvent[], expectedVersion: number): string {
  return JSON.stringify(
    events.map(({ data, metadata }, index) => ({
      event_id: metadata.eventId,
      stream_version: expectedVersion + index + 1,
      type: metadata.type,
      type_version: metadata.version,
      data,
      occurred_at: metadata.occurredAt,
      correlation_id: metadata.correlationId,
      causation_id: metadata.causationId,
      principal: metadata.principal,
    })),
  );
}

export interface RawTwin extends Appender {
  readonly pool: pg.Pool;
  /** Its schema, quoted. */
  readonly schema: string;
  /** The append itself, answering the global position of the last event (`transaction.sequence`), as Myelin does. */
  appendEvents(streamId: string, events: readonly NewEvent[], expectedVersion: number): Promise<string>;
}

/** Drops and recreates the twin's schema (`bench_raw` unless named), then opens its pool. */
export async function setUpRaw(schema = rawSchema): Promise<RawTwin> {
  const s = `"${schema}"`;
  const { existing, first } = appendStatements(s);
  const pool = new pg.Pool({ connectionString, max: poolSize });
  pool.on('error', () => {}); // an idle connection that breaks must not crash the run; the pool replaces it
  await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE; CREATE SCHEMA ${s}`);
  for (const migration of migrations) await pool.query(migration.sql(s));

  async function appendEvents(
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion: number,
  ): Promise<string> {
    const nextVersion = expectedVersion + events.length;
    const rows = eventRows(events, expectedVersion);
    const result =
      expectedVersion === 0
        ? await pool.query<{ transaction_id: string; sequence: string }>({
            name: 'raw_append_new',
            text: first,
            values: [streamId, nextVersion, rows],
          })
        : await pool.query<{ transaction_id: string; sequence: string }>({
            name: 'raw_append_existing',
            text: existing,
            values: [streamId, nextVersion, rows, expectedVersion],
          });
    const last = result.rows.at(-1);
    if (last === undefined) {
      throw new ConcurrencyError(streamId, expectedVersion === 0 ? 'no_stream' : expectedVersion, undefined);
    }
    return `${last.transaction_id}.${last.sequence}`;
  }

  return {
    pool,
    schema: s,
    appendEvents,
    async append(streamId, events, expectedVersion) {
      await appendEvents(streamId, events, expectedVersion);
    },
    isConflict: isConcurrencyError,
    async reset() {
      await pool.query(`TRUNCATE ${s}.events, ${s}.streams RESTART IDENTITY`);
    },
    async count() {
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${s}.events`);
      return rows[0]?.n ?? 0;
    },
    close: () => pool.end(),
  };
}

/**
 * The command path by hand: what Myelin's deposit command does, without mediator, repository or unit of work. Reads
 * the account's events and folds them into its balance, then appends one event expecting the version it read, in
 * the same single statement as above; two statements, each in its own implicit transaction.
 */
export function rawCommands(twin: RawTwin): CommandSubject {
  const { pool } = twin;
  const readSql = `SELECT data FROM ${twin.schema}.events WHERE stream_id = $1 ORDER BY stream_version`;
  async function deposit(id: string, amount: number): Promise<number> {
    const { rows } = await pool.query<{ data: { amount: number } }>({
      name: 'raw_read',
      text: readSql,
      values: [id],
    });
    let balance = 0;
    for (const row of rows) balance += row.data.amount;
    const commandId = randomUUID();
    const event: NewEvent = {
      data: { amount },
      metadata: {
        eventId: randomUUID(),
        type: depositedType,
        version: 1,
        occurredAt: new Date(),
        correlationId: commandId,
        causationId: commandId,
        principal: undefined,
      },
    };
    await twin.appendEvents(id, [event], rows.length);
    return balance + amount;
  }
  return {
    async operation(caller) {
      const id = nextStream(caller);
      const balance = await deposit(id, 1);
      if (balance !== caller.version + 1) {
        throw new Error(`raw: a deposit to ${id} at version ${caller.version} answered ${balance}`);
      }
      appended(caller, 1);
      return 1;
    },
    close: async () => {},
  };
}
