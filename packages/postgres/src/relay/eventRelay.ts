import type { Application, EventHandler, StoredEvent } from '@myelin/core';
import { positionParts, reportErrors } from '@myelin/core';
import type { Database, Sql } from '../database/database.ts';
import {
  type EventRow,
  eventColumns,
  PostgresUpcasting,
  toStoredEvent,
} from '../eventStore/postgresEventStore.ts';
import { PostgresProtection, Protection } from '../personalData/protection.ts';
import { type Lease, LeaseLostError } from '../subscriptions/leases.ts';
import { logSignal } from '../subscriptions/logSignal.ts';
import type { Partition } from '../subscriptions/partitions.ts';
import {
  type Consumer,
  type RunnerOptions,
  SubscriptionRunner,
} from '../subscriptions/subscriptionRunner.ts';

export interface EventRelayOptions extends RunnerOptions {
  /** Deliveries of one event to one handler before it is parked (a dead letter); defaults to 5. */
  readonly maxAttempts?: number;
  /** The wait before the first retry, doubled after each failure; defaults to 100 ms. */
  readonly backoffMs?: number;
  /** The longest wait between two retries; defaults to 60 s. */
  readonly maxBackoffMs?: number;
}

/** An event a handler failed to handle `maxAttempts` times, parked until it is replayed. */
export interface ParkedEvent {
  /** The handler's subscription: `relay:<event type>:<handler name>`. */
  readonly subscription: string;
  readonly eventId: string;
  readonly streamId: string;
  readonly type: string;
  readonly attempts: number;
  /** The last failure's message. */
  readonly error: string;
  readonly parkedAt: Date;
  /** Later events of the same stream held behind it, so that the stream's order holds. */
  readonly waiting: number;
}

/** The subscription name of a handler of an event type (and of one of its partitions, among `count`). */
export function relaySubscription(type: string, handler: string, partition?: Partition): string {
  const base = `relay:${type}:${handler}`;
  return partition === undefined ? base : `${base}:p${partition.index}of${partition.count}`;
}

/**
 * Makes the subscriptions of the partitions of handlers that have none yet (the handler was not partitioned, or
 * differently), each at the least position the handler's earlier subscriptions had read to: the events after it
 * are delivered again to those whose partition had passed them (at least once; an idempotent handler's inbox,
 * kept by handler, absorbs them), and none is skipped. Events an earlier subscription held (retrying or parked)
 * stay with it: change the partitions of a handler with none.
 */
async function startPartitions(
  database: Database,
  partitioned: readonly { readonly group: string; readonly count: number }[],
): Promise<void> {
  const s = database.schema;
  for (const { group, count } of partitioned) {
    const names = Array.from({ length: count }, (_, index) => `${group}:p${index}of${count}`);
    await database.query(
      `INSERT INTO ${s}.subscriptions (name, transaction_id, sequence)
       SELECT n, earlier.transaction_id, earlier.sequence FROM unnest($2::text[]) AS n,
         (SELECT transaction_id, sequence FROM ${s}.subscriptions
          WHERE (name = $1 OR starts_with(name, $1 || ':p')) AND NOT (name = ANY($2::text[]))
          ORDER BY transaction_id, sequence LIMIT 1) AS earlier
       WHERE NOT EXISTS (SELECT FROM ${s}.subscriptions WHERE name = ANY($2::text[]))
       ON CONFLICT (name) DO NOTHING`,
      [group, names],
    );
  }
}

/**
 * Delivers the events committed to the log to the application's in-process event handlers, each handler on its
 * own subscription (its own checkpoint, lease, retries and dead letters), in log order, at least once.
 *
 * A failed delivery is retried with backoff while the handler goes on with other streams; later events of the
 * failed event's stream wait behind it, so a stream's order holds. After `maxAttempts` the event is parked and
 * stays (with those behind it) until `replay`. Handlers declared `idempotent` record each handled event id in an
 * inbox, in their own transaction, so a redelivery has no second effect. Several processes may run a relay on one
 * database: each handler's subscription is leased to one of them at a time (see README).
 */
export class EventRelay {
  readonly #database: Database;
  readonly #runners: SubscriptionRunner[];
  readonly #partitioned: readonly { readonly group: string; readonly count: number }[];
  readonly #onError: (error: unknown, consumer: string) => void;
  #starting: Promise<void> | undefined;
  #stopped = false;

  constructor(app: Application, database: Database, options: EventRelayOptions = {}) {
    this.#database = database;
    const read = readerOf(app, database);
    this.#onError = options.onError ?? reportErrors(app, 'relay');
    const runnerOptions = { ...options, onError: this.#onError };
    // A partitioned handler is a runner per partition; the processes running a relay share them.
    this.#runners = app.eventHandlers.flatMap((handler) =>
      Array.from(
        { length: handler.partitions },
        (_, index) =>
          new SubscriptionRunner(
            database,
            new HandlerConsumer(
              app,
              database,
              handler,
              read,
              options,
              handler.partitions === 1 ? undefined : index,
            ),
            runnerOptions,
          ),
      ),
    );
    this.#partitioned = app.eventHandlers
      .filter((handler) => handler.partitions > 1)
      .map((handler) => ({
        group: relaySubscription(handler.message.type, handler.name),
        count: handler.partitions,
      }));
  }

  /** The handlers' subscription names. */
  get subscriptions(): readonly string[] {
    return this.#runners.map((runner) => runner.name);
  }

  start(): this {
    if (this.#starting !== undefined) return this;
    // The partitions of a handler new to them start where the handler had read to, not at the log's start.
    this.#starting = startPartitions(this.#database, this.#partitioned).then(
      () => {
        if (!this.#stopped) for (const runner of this.#runners) runner.start();
      },
      (error: unknown) => this.#onError(error, 'relay'),
    );
    return this;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#starting;
    await Promise.all(this.#runners.map((runner) => runner.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The parked events (dead letters), oldest first; of one subscription when given. */
  async parked(subscription?: string): Promise<readonly ParkedEvent[]> {
    const s = this.#database.schema;
    const { rows } = await this.#database.query<{
      subscription: string;
      event_id: string;
      stream_id: string;
      type: string;
      attempts: number;
      error: string;
      updated_at: Date;
      waiting: number;
    }>(
      `SELECT h.subscription, h.event_id, h.stream_id, e.type, h.attempts, h.error, h.updated_at,
         (SELECT count(*)::int FROM ${s}.held_events w WHERE w.subscription = h.subscription
            AND w.stream_id = h.stream_id AND w.status = 'waiting') AS waiting
       FROM ${s}.held_events h JOIN ${s}.events e USING (transaction_id, sequence)
       WHERE h.status = 'parked' AND ($1::text IS NULL OR h.subscription = $1)
       ORDER BY h.transaction_id, h.sequence`,
      [subscription ?? null],
    );
    return rows.map((row) => ({
      subscription: row.subscription,
      eventId: row.event_id,
      streamId: row.stream_id,
      type: row.type,
      attempts: row.attempts,
      error: row.error,
      parkedAt: row.updated_at,
      waiting: row.waiting,
    }));
  }

  /**
   * Delivers a parked event again (then the events waiting behind it), with a fresh count of attempts. False when
   * the subscription has no such parked event.
   */
  async replay(subscription: string, eventId: string): Promise<boolean> {
    const { rowCount } = await this.#database.query(
      `UPDATE ${this.#database.schema}.held_events
       SET status = 'retrying', attempts = 0, next_attempt_at = now(), updated_at = now()
       WHERE subscription = $1 AND event_id = $2 AND status = 'parked'`,
      [subscription, eventId],
    );
    if (rowCount > 0) logSignal(this.#database).wake();
    return rowCount > 0;
  }
}

/** How the relay reads an event for a handler: personal data opened (or placeholders), then upcast. */
function readerOf(app: Application, database: Database): (event: StoredEvent) => Promise<StoredEvent> {
  const { container } = app;
  const upcast = container.has(PostgresUpcasting)
    ? container.root.resolve(PostgresUpcasting)
    : (event: StoredEvent) => event;
  const protection = container.has(PostgresProtection)
    ? container.root.resolve(PostgresProtection)
    : new Protection(database, undefined);
  return async (event) => upcast(((await protection.reveal([event])) as StoredEvent[])[0] as StoredEvent);
}

interface HeldRow extends EventRow {
  readonly attempts: number;
}

/** One handler's subscription. */
class HandlerConsumer implements Consumer {
  readonly name: string;
  readonly types: readonly string[];
  readonly partition: Partition | undefined;
  readonly #app: Application;
  readonly #database: Database;
  readonly #handler: EventHandler<any>;
  readonly #read: (event: StoredEvent) => Promise<StoredEvent>;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  /** Streams with held events: later events of these wait behind them. */
  readonly #heldStreams = new Set<string>();

  constructor(
    app: Application,
    database: Database,
    handler: EventHandler<any>,
    read: (event: StoredEvent) => Promise<StoredEvent>,
    options: EventRelayOptions,
    partition?: number,
  ) {
    this.partition =
      partition === undefined
        ? undefined
        : {
            group: relaySubscription(handler.message.type, handler.name),
            index: partition,
            count: handler.partitions,
          };
    this.name = relaySubscription(handler.message.type, handler.name, this.partition);
    this.types = [handler.message.type];
    this.#app = app;
    this.#database = database;
    this.#handler = handler;
    this.#read = read;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#backoffMs = options.backoffMs ?? 100;
    this.#maxBackoffMs = options.maxBackoffMs ?? 60_000;
  }

  async acquired(): Promise<void> {
    const { rows } = await this.#database.query<{ stream_id: string }>(
      `SELECT DISTINCT stream_id FROM ${this.#database.schema}.held_events WHERE subscription = $1`,
      [this.name],
    );
    this.#heldStreams.clear();
    for (const row of rows) this.#heldStreams.add(row.stream_id);
  }

  async consume(
    events: readonly StoredEvent[],
    _end: string,
    checkpoint: (sql: Sql) => Promise<void>,
    lease: Lease,
  ): Promise<undefined> {
    const held: { event: StoredEvent; status: 'retrying' | 'waiting'; error: string | null }[] = [];
    for (const event of events) {
      // Another process runs this handler now: stop before the next effect (the batch is redelivered there).
      if (!lease.active) throw new LeaseLostError(this.name);
      if (this.#heldStreams.has(event.streamId)) {
        held.push({ event, status: 'waiting', error: null });
        continue;
      }
      const error = await this.#deliver(event);
      if (error !== undefined) {
        held.push({ event, status: 'retrying', error });
        this.#heldStreams.add(event.streamId);
      }
    }
    // The held events and the checkpoint move together: a crash before this redelivers the batch (at least once).
    await this.#database.transaction(async (sql) => {
      for (const { event, status, error } of held) {
        const { transaction: tx, sequence: seq } = positionParts(event.position);
        await sql.query(
          `INSERT INTO ${this.#database.schema}.held_events
             (subscription, transaction_id, sequence, event_id, stream_id, status, attempts, error, next_attempt_at)
           VALUES ($1, $2::text::xid8, $3::bigint, $4, $5, $6, $7, $8, now() + $9 * interval '1 millisecond')
           ON CONFLICT DO NOTHING`,
          [
            this.name,
            tx,
            seq,
            event.metadata.eventId,
            event.streamId,
            status,
            status === 'retrying' ? 1 : 0,
            error,
            this.#backoff(1),
          ],
        );
      }
      await checkpoint(sql);
    });
    return undefined;
  }

  /**
   * Delivers the held events whose retry has come due, each the first held event of its stream. An event waiting
   * with nothing ahead of it any more (an operator discarded what it waited for) goes too.
   */
  async tick(lease: Lease): Promise<void> {
    if (this.#heldStreams.size === 0) return;
    // Held events change outside this runner too (the console discards them): the streams held are read again.
    await this.acquired();
    const s = this.#database.schema;
    for (;;) {
      const { rows } = await this.#database.query<HeldRow>(
        `SELECT ${eventColumns('e')}, h.attempts FROM ${s}.held_events h
         JOIN ${s}.events e USING (transaction_id, sequence)
         WHERE h.subscription = $1 AND h.status IN ('retrying', 'waiting') AND h.next_attempt_at <= now()
           AND NOT EXISTS (SELECT FROM ${s}.held_events o WHERE o.subscription = h.subscription
             AND o.stream_id = h.stream_id AND (o.transaction_id, o.sequence) < (h.transaction_id, h.sequence))
         ORDER BY h.transaction_id, h.sequence LIMIT 100`,
        [this.name],
      );
      if (rows.length === 0) return;
      for (const row of rows) {
        if (!lease.active) throw new LeaseLostError(this.name);
        await this.#retry(toStoredEvent(row), row.attempts, lease);
      }
    }
  }

  async #retry(event: StoredEvent, attempts: number, lease: Lease): Promise<void> {
    const s = this.#database.schema;
    const { transaction: tx, sequence: seq } = positionParts(event.position);
    const error = await this.#deliver(event);
    // Every write checks the lease: a runner that lost it must not touch another runner's held events.
    const fenced = (epoch: string) =>
      `EXISTS (SELECT FROM ${s}.subscriptions WHERE name = $1 AND epoch = ${epoch}::bigint)`;
    if (error === undefined) {
      await this.#database.transaction(async (sql) => {
        const { rowCount } = await sql.query(
          `DELETE FROM ${s}.held_events WHERE subscription = $1 AND transaction_id = $2::text::xid8
             AND sequence = $3::bigint AND ${fenced('$4')}`,
          [this.name, tx, seq, lease.epoch],
        );
        if (rowCount === 0) throw new LeaseLostError(this.name);
        // The next event held in the stream goes next.
        const { rows } = await sql.query<{ stream_id: string }>(
          `UPDATE ${s}.held_events SET status = 'retrying', next_attempt_at = now(), updated_at = now()
           WHERE (subscription, transaction_id, sequence) = (
             SELECT subscription, transaction_id, sequence FROM ${s}.held_events
             WHERE subscription = $1 AND stream_id = $2 AND ${fenced('$3')}
             ORDER BY transaction_id, sequence LIMIT 1)
           RETURNING stream_id`,
          [this.name, event.streamId, lease.epoch],
        );
        if (rows.length === 0) this.#heldStreams.delete(event.streamId);
      });
      return;
    }
    const next = attempts + 1;
    const { rowCount } = await this.#database.query(
      `UPDATE ${s}.held_events SET attempts = $5::int, error = $6::text, updated_at = now(),
         status = CASE WHEN $5::int >= $7::int THEN 'parked' ELSE 'retrying' END,
         next_attempt_at = now() + $8::int * interval '1 millisecond'
       WHERE subscription = $1 AND transaction_id = $2::text::xid8 AND sequence = $3::bigint AND ${fenced('$4')}`,
      [this.name, tx, seq, lease.epoch, next, error, this.#maxAttempts, this.#backoff(next)],
    );
    if (rowCount === 0) throw new LeaseLostError(this.name);
  }

  /** Runs the handler; the failure's message when it threw. */
  async #deliver(stored: StoredEvent): Promise<string | undefined> {
    const definition = this.#handler.message;
    try {
      const event = await this.#read(stored);
      const { metadata } = event;
      await this.#app.mediator.publish(new definition(event.data), {
        handler: this.#handler.name,
        eventId: metadata.eventId,
        occurredAt: metadata.occurredAt,
        correlationId: metadata.correlationId,
        causationId: metadata.causationId,
        principal: metadata.principal === undefined ? undefined : { subject: metadata.principal, roles: [] },
        traceparent: metadata.traceparent,
        tracestate: metadata.tracestate,
      });
      return undefined;
    } catch (error) {
      const cause = (error as AggregateError).errors?.[0] ?? error;
      return cause instanceof Error ? cause.message : String(cause);
    }
  }

  #backoff(attempts: number): number {
    return Math.min(this.#backoffMs * 2 ** (attempts - 1), this.#maxBackoffMs);
  }
}
