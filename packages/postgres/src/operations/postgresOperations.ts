// The operator's view of the system on PostgreSQL or PGlite: what the console of @myelin/http shows and does.
import {
  comparePositions,
  type DeadLetter,
  type DeadLetterRef,
  type Erasure,
  type LogPosition,
  logPosition,
  type Operations,
  type OperatorAction,
  type ProcessRecord,
  type ProcessView,
  type ProjectionState,
  processCollection,
  type RebuildOutcome,
  type Story,
  type StoryCause,
  type StoryDelivery,
  type SubscriptionKind,
  type SubscriptionStatus,
  type SystemStatus,
  startOfLog,
} from '@myelin/core';
import type { Database, Sql } from '../database/database.ts';
import { type EventRow, eventColumns, toStoredEvent } from '../eventStore/postgresEventStore.ts';
import { projectionSubscription, subscriptionsOfRow } from '../projections/projectionSubscription.ts';
import { documentKey, tableNames } from '../projections/readModels.ts';
import { integrationSubscription } from '../relay/integrationPublisher.ts';
import { schedulerLease } from '../scheduling/postgresMessageScheduler.ts';
import { logSignal } from '../subscriptions/logSignal.ts';
import { partitionOf } from '../subscriptions/partitions.ts';

/** How many events a story holds at most. */
const storyLimit = 500;
/** How many recent actions the status carries. */
const recentActions = 20;

interface SubscriptionRow {
  name: string;
  tx: string;
  seq: string;
  handled: string;
  types: string[] | null;
  holder: string | null;
  projection: string | null;
  version: number | null;
  mode: 'inline' | 'async' | null;
  status: 'building' | 'active' | 'retired' | null;
  pending: number;
  age_ms: number | null;
  retrying: number;
  parked: number;
}

const states: Record<'building' | 'active' | 'retired', ProjectionState> = {
  building: 'building',
  active: 'serving',
  retired: 'retired',
};

export function kindOf(name: string): SubscriptionKind {
  if (name.startsWith('projection:')) return 'projection';
  if (name.startsWith('relay:')) return 'handler';
  if (name === integrationSubscription) return 'publisher';
  if (name === schedulerLease) return 'scheduler';
  return 'other';
}

/**
 * {@link Operations} over a database: read from Myelin's tables at each call, so every process (an API process
 * serving the console, the projector running the subscriptions) sees the same. `postgresPersistence` registers
 * one.
 */
export class PostgresOperations implements Operations {
  readonly #database: Database;

  constructor(database: Database) {
    this.#database = database;
  }

  async status(): Promise<SystemStatus> {
    const s = this.#database.schema;
    const [subscriptions, latest, actions] = await Promise.all([
      this.#subscriptions(),
      this.#database.query<{ head: string | null; erasure: string | null }>(
        `SELECT (SELECT transaction_id::text || '.' || sequence::text FROM ${s}.events
                 ORDER BY transaction_id DESC, sequence DESC LIMIT 1) AS head,
                (SELECT max(id)::text FROM ${s}.erasures) AS erasure`,
      ),
      this.#actions(),
    ]);
    const row = latest.rows[0];
    return {
      at: new Date(),
      head: (row?.head ?? startOfLog) as LogPosition,
      subscriptions: subscriptions.map(toStatus),
      actions,
      lastErasure: row?.erasure ?? undefined,
    };
  }

  async deadLetters(options: { readonly limit?: number } = {}): Promise<readonly DeadLetter[]> {
    const s = this.#database.schema;
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? 100)), 1000);
    const { rows } = await this.#database.query<
      EventRow & { subscription: string; attempts: number; error: string; parked_at: Date; waiting: number }
    >(
      `SELECT h.subscription, h.attempts, h.error, h.updated_at AS parked_at, ${eventColumns('e')},
         (SELECT count(*)::int FROM ${s}.held_events w WHERE w.subscription = h.subscription
            AND w.stream_id = h.stream_id AND w.status = 'waiting') AS waiting
       FROM ${s}.held_events h JOIN ${s}.events e USING (transaction_id, sequence)
       WHERE h.status = 'parked' ORDER BY h.transaction_id, h.sequence, h.subscription LIMIT $1`,
      [limit],
    );
    return rows.map((row) => ({
      subscription: row.subscription,
      eventId: row.event_id,
      streamId: row.stream_id,
      type: row.type,
      data: row.data,
      occurredAt: new Date(row.occurred_at),
      correlationId: row.correlation_id,
      attempts: row.attempts,
      error: row.error ?? '',
      parkedAt: new Date(row.parked_at),
      waiting: row.waiting,
    }));
  }

  async replay(target: DeadLetterRef | 'all', actor: string): Promise<number> {
    const s = this.#database.schema;
    const replayed = await this.#database.transaction(async (sql) => {
      const { rows } = await sql.query<{ subscription: string; event_id: string }>(
        `UPDATE ${s}.held_events
         SET status = 'retrying', attempts = 0, next_attempt_at = now(), updated_at = now()
         WHERE status = 'parked' AND ($1::text IS NULL OR (subscription = $1 AND event_id = $2))
         RETURNING subscription, event_id`,
        target === 'all' ? [null, null] : [target.subscription, target.eventId],
      );
      await record(sql, s, actor, 'replay', target, rows);
      return rows.length;
    });
    if (replayed > 0) logSignal(this.#database).committed(); // the relays look again now, in every process
    return replayed;
  }

  async discard(target: DeadLetterRef | 'all', actor: string): Promise<number> {
    const s = this.#database.schema;
    const discarded = await this.#database.transaction(async (sql) => {
      const { rows } = await sql.query<{ subscription: string; event_id: string; stream_id: string }>(
        `DELETE FROM ${s}.held_events
         WHERE status = 'parked' AND ($1::text IS NULL OR (subscription = $1 AND event_id = $2))
         RETURNING subscription, event_id, stream_id`,
        target === 'all' ? [null, null] : [target.subscription, target.eventId],
      );
      // The first event held behind each one goes next, as it would after a delivery.
      for (const { subscription, stream_id } of rows) {
        await sql.query(
          `UPDATE ${s}.held_events SET status = 'retrying', next_attempt_at = now(), updated_at = now()
           WHERE (subscription, transaction_id, sequence) = (
             SELECT subscription, transaction_id, sequence FROM ${s}.held_events
             WHERE subscription = $1 AND stream_id = $2 AND status = 'waiting'
             ORDER BY transaction_id, sequence LIMIT 1)`,
          [subscription, stream_id],
        );
      }
      await record(sql, s, actor, 'discard', target, rows);
      return rows.length;
    });
    if (discarded > 0) logSignal(this.#database).committed();
    return discarded;
  }

  async rebuild(projection: string, actor: string): Promise<RebuildOutcome> {
    const s = this.#database.schema;
    const outcome = await this.#database.transaction(async (sql): Promise<RebuildOutcome> => {
      // FOR UPDATE: the batch a runner is applying finishes first (it locks the same row).
      const { rows } = await sql.query<{ version: number; status: string }>(
        `SELECT version, status FROM ${s}.projections WHERE name = $1 AND status <> 'retired'
         ORDER BY version FOR UPDATE`,
        [projection],
      );
      if (rows.length === 0) return 'not-found';
      const serving = rows.find((row) => row.status === 'active');
      if (serving === undefined || rows.some((row) => row.status === 'building')) return 'already-building';
      const { version } = serving;
      const subscription = projectionSubscription(projection, version);
      // Back to the start (every partition of it), and a new epoch: the runner holding the lease finds its next write refused, lets the
      // lease go and takes it again, reading from the start. Commits stop applying it inline while it builds.
      await sql.query(
        `UPDATE ${s}.projections SET status = 'building', activated_at = NULL WHERE name = $1 AND version = $2`,
        [projection, version],
      );
      await sql.query(
        `UPDATE ${s}.subscriptions SET transaction_id = '0', sequence = 0, handled = 0, epoch = epoch + 1,
           caught_up = false, updated_at = now() WHERE name = $1 OR starts_with(name, $1 || ':p')`,
        [subscription],
      );
      await sql.query(`DELETE FROM ${s}.read_documents WHERE model = $1`, [documentKey(projection, version)]);
      const table = tableNames(s, projection, version);
      const { rows: exists } = await sql.query<{ found: boolean }>(
        'SELECT to_regclass($1) IS NOT NULL AS found',
        [table],
      );
      if (exists[0]?.found === true) await sql.exec(`DELETE FROM ${table}`);
      await sql.query(`DELETE FROM ${s}.inline_marks WHERE projection = $1 AND version = $2`, [
        projection,
        version,
      ]);
      await sql.query(
        `INSERT INTO ${s}.operator_actions (actor, action, projection, affected) VALUES ($1, 'rebuild', $2, 1)`,
        [actor, projection],
      );
      return 'started';
    });
    if (outcome === 'started') logSignal(this.#database).committed();
    return outcome;
  }

  async erasures(options: { readonly limit?: number } = {}): Promise<readonly Erasure[]> {
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? 100)), 1000);
    // The record's columns only: the subject's data is gone with its keys, and the record never held any.
    const { rows } = await this.#database.query<{
      id: string;
      subject: string;
      requested_by: string;
      reason: string | null;
      erased_at: Date;
      keys: number;
      read_models: string[];
      responses: number;
    }>(
      `SELECT id::text, subject, requested_by, reason, erased_at, keys, read_models, responses
       FROM ${this.#database.schema}.erasures ORDER BY id DESC LIMIT $1`,
      [limit],
    );
    return rows.map((row) => ({
      id: row.id,
      subject: row.subject,
      requestedBy: row.requested_by,
      reason: row.reason ?? undefined,
      at: new Date(row.erased_at),
      keys: row.keys,
      readModels: row.read_models,
      responses: row.responses,
    }));
  }

  async story(correlationId: string): Promise<Story> {
    const s = this.#database.schema;
    const { rows: eventRows } = await this.#database.query<EventRow>(
      `SELECT ${eventColumns()} FROM ${s}.events WHERE correlation_id = $1
       ORDER BY transaction_id, sequence LIMIT ${storyLimit}`,
      [correlationId],
    );
    const events = eventRows.map(toStoredEvent);
    const ids = events.map((event) => event.metadata.eventId);
    // The messages that caused them and are no event of this log: a command, or an event received from another
    // service, which the inbox of an idempotent consumer of the bus records (by its id: the inbox keeps no
    // correlation id).
    const outside = [...new Set(events.flatMap((event) => event.metadata.causationId ?? []))].filter(
      (id) => !ids.includes(id),
    );
    const [subscriptions, held, inbox, discarded] = await Promise.all([
      this.#subscriptions(false),
      this.#database.query<{
        subscription: string;
        event_id: string;
        status: 'retrying' | 'parked' | 'waiting';
        attempts: number;
        error: string | null;
      }>(
        `SELECT subscription, event_id, status, attempts, error FROM ${s}.held_events
         WHERE event_id = ANY($1::text[])`,
        [ids],
      ),
      this.#database.query<{ consumer: string; event_id: string; handled_at: Date }>(
        `SELECT consumer, event_id, handled_at FROM ${s}.inbox WHERE event_id = ANY($1::text[])`,
        [[...ids, ...outside]],
      ),
      this.#database.query<{ subscription: string; event_id: string }>(
        `SELECT subscription, unnest(event_ids) AS event_id FROM ${s}.operator_actions
         WHERE action = 'discard' AND event_ids && $1::text[]`,
        [ids],
      ),
    ]);
    const key = (subscription: string, eventId: string) => `${subscription}\u0000${eventId}`;
    const heldBy = new Map(held.rows.map((row) => [key(row.subscription, row.event_id), row]));
    const handledAt = new Map(inbox.rows.map((row) => [key(row.consumer, row.event_id), row.handled_at]));
    const discards = new Set(discarded.rows.map((row) => key(row.subscription, row.event_id)));
    const known = new Set(subscriptions.map((row) => row.name));

    const causes: StoryCause[] = [];
    const byCause = new Map<string, { events: StoryCause['events'][number][] }>();
    const eventIds = new Set(ids);
    for (const event of events) {
      const { metadata } = event;
      const deliveries: StoryDelivery[] = [];
      for (const row of subscriptions) {
        if (row.types !== null && !row.types.includes(metadata.type)) continue;
        const k = key(row.name, metadata.eventId);
        const h = heldBy.get(k);
        const at = handledAt.get(k);
        const kind = kindOf(row.name);
        if (h !== undefined) {
          deliveries.push({
            subscription: row.name,
            kind,
            state: h.status,
            attempts: h.attempts,
            ...(h.error === null ? {} : { error: h.error }),
          });
        } else if (comparePositions(logPosition(row.tx, row.seq), event.position) >= 0) {
          const state = discards.has(k) ? 'discarded' : 'done';
          deliveries.push({ subscription: row.name, kind, state, ...(at === undefined ? {} : { at }) });
        } else {
          deliveries.push({ subscription: row.name, kind, state: 'pending' });
        }
      }
      const causeKey = metadata.causationId ?? `\u0000${metadata.eventId}`;
      let cause = byCause.get(causeKey);
      if (cause === undefined) {
        cause = { events: [] };
        byCause.set(causeKey, cause);
        const fromEvent =
          metadata.causationId !== undefined &&
          (eventIds.has(metadata.causationId) ||
            inbox.rows.some((row) => row.event_id === metadata.causationId));
        causes.push({
          id: metadata.causationId,
          type: metadata.causationType,
          kind: fromEvent ? 'event' : 'command',
          events: cause.events,
        });
      }
      cause.events.push({
        eventId: metadata.eventId,
        type: metadata.type,
        streamId: event.streamId,
        occurredAt: metadata.occurredAt,
        position: event.position,
        deliveries,
      });
    }
    // Handlers of this store's inbox that are no subscription of its log: consumers of the message bus.
    const received = inbox.rows
      .filter((row) => !known.has(row.consumer))
      .map((row) => ({
        eventId: row.event_id,
        subscription: row.consumer,
        kind: kindOf(row.consumer),
        state: 'done' as const,
        at: row.handled_at,
      }));
    return { correlationId, causes, received };
  }

  async processes(
    options: {
      readonly process?: string;
      readonly status?: ProcessRecord['status'];
      readonly limit?: number;
    } = {},
  ): Promise<readonly ProcessView[]> {
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? 100)), 1000);
    const { rows } = await this.#database.query<{ id: string; version: number; state: ProcessRecord }>(
      `SELECT id, version, state FROM ${this.#database.schema}.documents
       WHERE collection = $1 AND state ->> 'status' = $2 AND ($3::text IS NULL OR state ->> 'process' = $3)
       ORDER BY state ->> 'updatedAt' DESC, id LIMIT $4`,
      [processCollection, options.status ?? 'running', options.process ?? null, limit],
    );
    return rows.map((row) => ({ ...row.state, id: row.id, version: row.version }));
  }

  /** Every subscription of the log, with its projection, lag (unless `withLag` is false) and held events. */
  async #subscriptions(withLag = true): Promise<SubscriptionRow[]> {
    const s = this.#database.schema;
    const lockKey = `'myelin.subscription:' || $1 || ':' || n.name`;
    const { rows } = await this.#database.query<SubscriptionRow>(
      `WITH names AS (
         SELECT part.name, p.name AS projection, p.version, part.k
         FROM ${s}.projections p CROSS JOIN LATERAL ${subscriptionsOfRow} part
         UNION ALL SELECT name, NULL, NULL, NULL FROM ${s}.subscriptions WHERE NOT starts_with(name, 'projection:')
       )
       SELECT n.name, coalesce(sub.transaction_id, '0')::text AS tx, coalesce(sub.sequence, 0)::text AS seq,
         coalesce(sub.handled, 0)::text AS handled, coalesce(p.types, sub.types) AS types,
         CASE WHEN EXISTS (
           SELECT FROM pg_locks l, hashtextextended(${lockKey}, 0) AS k
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
             AND l.classid = ((k >> 32) & 4294967295)::oid AND l.objid = (k & 4294967295)::oid
         ) THEN sub.holder END AS holder,
         p.name AS projection, p.version, p.mode, p.status,
         coalesce(pending.n, 0) AS pending, pending.age_ms,
         coalesce(held.retrying, 0) AS retrying, coalesce(held.parked, 0) AS parked
       FROM names n
       LEFT JOIN ${s}.subscriptions sub ON sub.name = n.name
       LEFT JOIN ${s}.projections p ON p.name = n.projection AND p.version = n.version
       LEFT JOIN LATERAL (
         SELECT count(*)::int AS n,
           (extract(epoch FROM now() - min(e.occurred_at)) * 1000)::float8 AS age_ms
         FROM ${s}.events e
         WHERE $2 AND p.status IS DISTINCT FROM 'retired'
           AND (e.transaction_id, e.sequence) > (coalesce(sub.transaction_id, '0'), coalesce(sub.sequence, 0))
           AND (coalesce(p.types, sub.types) IS NULL
             OR e.type IN (SELECT jsonb_array_elements_text(coalesce(p.types, sub.types))))
           AND (p.partitions IS NULL OR p.partitions = 1 OR ${partitionOf('e.stream_id', 'p.partitions')} = n.k)
       ) pending ON true
       LEFT JOIN LATERAL (
         SELECT count(*) FILTER (WHERE h.status <> 'parked')::int AS retrying,
           count(*) FILTER (WHERE h.status = 'parked')::int AS parked
         FROM ${s}.held_events h WHERE h.subscription = n.name
       ) held ON true
       ORDER BY n.name`,
      [this.#database.schemaName, withLag],
    );
    return rows;
  }

  async #actions(): Promise<OperatorAction[]> {
    const { rows } = await this.#database.query<{
      at: Date;
      actor: string;
      action: OperatorAction['action'];
      subscription: string | null;
      event_ids: string[] | null;
      projection: string | null;
      affected: number;
    }>(
      `SELECT at, actor, action, subscription, event_ids, projection, affected
       FROM ${this.#database.schema}.operator_actions ORDER BY id DESC LIMIT ${recentActions}`,
    );
    return rows.map((row) => ({
      at: new Date(row.at),
      actor: row.actor,
      action: row.action,
      ...(row.subscription === null ? {} : { subscription: row.subscription }),
      ...(row.event_ids?.length === 1 ? { eventId: row.event_ids[0] } : {}),
      ...(row.projection === null ? {} : { projection: row.projection }),
      affected: row.affected,
    }));
  }
}

function toStatus(row: SubscriptionRow): SubscriptionStatus {
  const lagEvents = row.pending;
  const handled = Number(row.handled);
  const building = row.status === 'building';
  return {
    name: row.name,
    kind: kindOf(row.name),
    ...(row.projection === null || row.version === null || row.mode === null || row.status === null
      ? {}
      : {
          projection: {
            name: row.projection,
            version: row.version,
            mode: row.mode,
            state: states[row.status],
          },
        }),
    position: logPosition(row.tx, row.seq),
    lagEvents,
    lagMs: lagEvents === 0 ? 0 : Math.max(0, Math.round(row.age_ms ?? 0)),
    ...(building ? { progress: handled + lagEvents === 0 ? 0 : handled / (handled + lagEvents) } : {}),
    handled,
    holder: row.holder ?? undefined,
    retrying: row.retrying,
    parked: row.parked,
  };
}

/** Records an action on dead letters, by subscription (one row for each subscription it reached). */
async function record(
  sql: Sql,
  schema: string,
  actor: string,
  action: 'replay' | 'discard',
  target: DeadLetterRef | 'all',
  rows: readonly { subscription: string; event_id: string }[],
): Promise<void> {
  const bySubscription = new Map<string, string[]>();
  for (const row of rows) {
    const ids = bySubscription.get(row.subscription) ?? [];
    ids.push(row.event_id);
    bySubscription.set(row.subscription, ids);
  }
  // An action that reached nothing is recorded too: someone tried, and found it already gone.
  if (bySubscription.size === 0 && target !== 'all') bySubscription.set(target.subscription, []);
  if (bySubscription.size === 0) bySubscription.set('', []);
  for (const [subscription, ids] of bySubscription) {
    await sql.query(
      `INSERT INTO ${schema}.operator_actions (actor, action, subscription, event_ids, affected)
       VALUES ($1, $2, nullif($3, ''), $4::text[], $5)`,
      [actor, action, subscription, ids, ids.length],
    );
  }
}
