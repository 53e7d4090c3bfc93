// The scheduled_messages table: what units of work write into it, and how a row reads back.
import {
  keyIdsOf,
  type ScheduleChange,
  type ScheduledMessage,
  ScheduledMessageGoneError,
} from '@myelin/core';
import type { Sql } from '../database/database.ts';
import { keysStillThere } from '../eventStore/postgresEventStore.ts';

/** A row of scheduled_messages. */
export interface ScheduledRow {
  readonly id: string;
  readonly message_id: string;
  readonly kind: 'command' | 'event';
  readonly type: string;
  readonly type_version: number;
  readonly payload: unknown;
  readonly due_at: Date;
  readonly stream_id: string | null;
  readonly correlation_id: string;
  readonly causation_id: string | null;
  readonly principal: { subject: string; roles: string[] } | null;
  readonly attempts: number;
  readonly status: 'scheduled' | 'parked';
  readonly error: string | null;
  readonly traceparent: string | null;
  readonly tracestate: string | null;
}

export const scheduledColumns =
  'id, message_id, kind, type, type_version, payload, due_at, stream_id, correlation_id, causation_id, ' +
  'principal, attempts, status, error, traceparent, tracestate';

export function toScheduledMessage(row: ScheduledRow): ScheduledMessage {
  return {
    id: row.id,
    messageId: row.message_id,
    kind: row.kind,
    type: row.type,
    version: row.type_version,
    payload: row.payload,
    dueAt: new Date(row.due_at),
    streamId: row.stream_id ?? undefined,
    correlationId: row.correlation_id,
    causationId: row.causation_id ?? undefined,
    principal: row.principal ?? undefined,
    attempts: row.attempts,
    status: row.status,
    error: row.error ?? undefined,
    ...(row.traceparent === null ? {} : { traceparent: row.traceparent }),
    ...(row.tracestate === null ? {} : { tracestate: row.tracestate }),
  };
}

/**
 * Writes the schedule changes of the units of work committing in one transaction, two statements at most: the
 * cancellations, then the messages (each replacing any of its id). The last change of an id wins. Events with
 * personal data come sealed (see `sealScheduled`); as an append does, the write fails with a DataKeyGoneError if
 * a key they were sealed with is gone (a process's cache was stale), and the unit of work seals them again.
 */
export async function writeScheduleChanges(
  sql: Sql,
  schema: string,
  changes: readonly ScheduleChange[],
): Promise<void> {
  const latest = new Map<string, ScheduleChange>();
  for (const change of changes) latest.set(change.kind === 'store' ? change.message.id : change.id, change);
  const cancelled: string[] = [];
  const stored: ScheduledMessage[] = [];
  for (const change of latest.values()) {
    if (change.kind === 'cancel') cancelled.push(change.id);
    else stored.push(change.message);
  }
  if (cancelled.length > 0) {
    await sql.query(`DELETE FROM ${schema}.scheduled_messages WHERE id = ANY($1::text[])`, [cancelled]);
  }
  if (stored.length === 0) return;
  const keyIds = keyIdsOf(stored.map((message) => ({ data: message.payload })));
  if (keyIds.length > 0) await keysStillThere(sql, schema, keyIds);
  // One row per message from parallel arrays; the JSON columns go as text, parsed by PostgreSQL.
  await sql.query(
    `INSERT INTO ${schema}.scheduled_messages AS m (id, message_id, kind, type, type_version, payload, due_at,
       stream_id, correlation_id, causation_id, principal, traceparent, tracestate)
     SELECT id, message_id, kind, type, type_version, payload::jsonb, due_at, stream_id, correlation_id,
       causation_id, principal::jsonb, traceparent, tracestate
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[],
       $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
       AS t(id, message_id, kind, type, type_version, payload, due_at, stream_id, correlation_id, causation_id,
         principal, traceparent, tracestate)
     ON CONFLICT (id) DO UPDATE SET message_id = EXCLUDED.message_id, kind = EXCLUDED.kind, type = EXCLUDED.type,
       type_version = EXCLUDED.type_version, payload = EXCLUDED.payload, due_at = EXCLUDED.due_at,
       stream_id = EXCLUDED.stream_id, correlation_id = EXCLUDED.correlation_id,
       causation_id = EXCLUDED.causation_id, principal = EXCLUDED.principal, traceparent = EXCLUDED.traceparent,
       tracestate = EXCLUDED.tracestate, attempts = 0, status = 'scheduled', error = NULL, created_at = now()`,
    [
      stored.map((m) => m.id),
      stored.map((m) => m.messageId),
      stored.map((m) => m.kind),
      stored.map((m) => m.type),
      stored.map((m) => m.version),
      stored.map((m) => JSON.stringify(m.payload ?? null)),
      stored.map((m) => m.dueAt.toISOString()),
      stored.map((m) => m.streamId ?? null),
      stored.map((m) => m.correlationId),
      stored.map((m) => m.causationId ?? null),
      stored.map((m) => (m.principal === undefined ? null : JSON.stringify(m.principal))),
      stored.map((m) => m.traceparent ?? null),
      stored.map((m) => m.tracestate ?? null),
    ],
  );
}

/**
 * Removes the scheduled message a command delivers, in the transaction of the command's effects: if another
 * delivery removed it first (or it was cancelled or replaced), the transaction is rolled back and the command has
 * no effect.
 */
export async function removeDelivered(
  sql: Sql,
  schema: string,
  id: string,
  messageId: string,
): Promise<void> {
  const { rowCount } = await sql.query(
    `DELETE FROM ${schema}.scheduled_messages WHERE id = $1 AND message_id = $2`,
    [id, messageId],
  );
  if (rowCount === 0) throw new ScheduledMessageGoneError(id);
}
