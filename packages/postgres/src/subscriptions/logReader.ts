import {
  comparePositions,
  type LogPosition,
  logPosition,
  positionParts,
  type StoredEvent,
} from '@myelin/core';
import { prepared, type Sql } from '../database/database.ts';
import { type EventRow, eventColumns, toStoredEvent } from '../eventStore/postgresEventStore.ts';
import { type Partition, partitionOf } from './partitions.ts';

export interface LogBatch {
  /** The events after the position, in log order, of the wanted types. */
  readonly events: readonly StoredEvent[];
  /**
   * How far the log has been read: the last event's position when the batch is full, otherwise the horizon (every
   * transaction below it has ended), so a reader of rare types can move its checkpoint past what it skipped.
   */
  readonly end: LogPosition;
  /**
   * Whether any event at all, of any type and partition, lies after the position up to `end`. The horizon moves
   * whenever a transaction anywhere on the server takes an id (a checkpoint write, a row lock), so a read that
   * passed none has moved past nothing: its reader need not write a checkpoint for it.
   */
  readonly passedEvents: boolean;
}

export interface ReadLogOptions {
  readonly after: LogPosition;
  /** Only events of these type names; every event when absent. */
  readonly types?: readonly string[] | undefined;
  /** Only the events of the streams in this partition; all when absent. */
  readonly partition?: Partition | undefined;
  readonly limit: number;
}

/**
 * Reads the log after a position, below the horizon: the oldest transaction still running. An event of a
 * transaction that commits late has a transaction id at or above the horizon until then, so it is read once it
 * has committed, never skipped. (Events are not upcast here; the caller does that.)
 */
export async function readLog(sql: Sql, schema: string, options: ReadLogOptions): Promise<LogBatch> {
  const { transaction, sequence } = positionParts(options.after);
  // Whether the range holds an event of any type is asked only when none of the wanted ones was found (the CASE
  // leaves it unrun otherwise: catching up and tailing pay nothing), in the same statement: one probe of the log's
  // key. Not EXISTS: it drops the ORDER BY, and its generic plan, which a prepared statement ends up with, scans
  // the whole table.
  const { rows } = await sql.query<EventRow & { horizon: string; passed: boolean | null }>(
    `SELECT h.horizon, CASE WHEN ev.event_id IS NULL THEN (
         SELECT true FROM ${schema}.events
         WHERE (transaction_id, sequence) > ($1::text::xid8, $2::bigint) AND transaction_id < h.horizon::xid8
         ORDER BY transaction_id, sequence LIMIT 1
       ) END AS passed, ev.*
     FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon) h
     LEFT JOIN LATERAL (
       SELECT ${eventColumns()} FROM ${schema}.events
       WHERE (transaction_id, sequence) > ($1::text::xid8, $2::bigint)
         AND transaction_id < h.horizon::xid8
         AND ($3::text IS NULL OR type IN (SELECT jsonb_array_elements_text($3::text::jsonb)))
         AND ($5::int IS NULL OR ${partitionOf('stream_id', '$6::int')} = $5::int)
       ORDER BY transaction_id, sequence LIMIT $4
     ) ev ON true`,
    [
      transaction,
      sequence,
      options.types === undefined ? null : JSON.stringify(options.types),
      options.limit,
      options.partition?.index ?? null,
      options.partition?.count ?? null,
    ],
    // Every runner sends it for every batch: planned once per connection.
    prepared,
  );
  const horizon = logPosition(rows[0]?.horizon ?? '0', 0);
  const events = rows.filter((row) => row.event_id !== null).map(toStoredEvent);
  const last = events.at(-1)?.position;
  const end =
    events.length === options.limit && last !== undefined
      ? last
      : comparePositions(horizon, options.after) > 0
        ? horizon
        : options.after;
  return { events, end, passedEvents: events.length > 0 || rows[0]?.passed === true };
}
