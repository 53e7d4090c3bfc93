// The daemon: each projection version a leased subscription of the log, built beside the old one and switched in
// (blue/green) once caught up.
import {
  type Application,
  contextOf,
  type LogPosition,
  type Projection,
  positionParts,
  RegisteredProjections,
  reportErrors,
  type StoredEvent,
  withinSpan,
} from '@myelin/core';
import { type Link, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { type Database, prepared, type Sql, type TransactionOptions } from '../database/database.ts';
import { type EventRow, eventColumns, toStoredEvent } from '../eventStore/postgresEventStore.ts';
import { PostgresEventReading, type ReadEvents } from '../personalData/protection.ts';
import { progressSignal } from '../subscriptions/logSignal.ts';
import type { Partition } from '../subscriptions/partitions.ts';
import {
  type Consumer,
  type RunnerOptions,
  SubscriptionRunner,
} from '../subscriptions/subscriptionRunner.ts';
import { apply, markApplied, unmarked } from './inlineProjections.ts';
import { pointView } from './postgresProjections.ts';
import { projectionSubscription } from './projectionSubscription.ts';
import { documentKey, tableNames } from './readModels.ts';

/**
 * Runs an application's projections: each version is a subscription of the log, leased to one process at a
 * time (a standby takes over when the active process dies). A version being built catches up from the start of
 * the log beside the one serving; when it has caught up, it takes over in one transaction and the old read model
 * is dropped. Async projections apply each batch in one transaction with their checkpoint: exactly-once effects.
 */
export class ProjectionDaemon {
  readonly #runners: SubscriptionRunner[];

  constructor(app: Application, database: Database, options: RunnerOptions = {}) {
    const projections = app.container.root.resolve(RegisteredProjections);
    const read = app.container.root.resolve(PostgresEventReading);
    const runnerOptions = { ...options, onError: options.onError ?? reportErrors(app, 'projection') };
    // A partitioned projection is a runner per partition; the processes running it share them.
    this.#runners = projections.flatMap((p) =>
      Array.from(
        { length: p.partitions },
        (_, index) =>
          new SubscriptionRunner(
            database,
            new ProjectionConsumer(database, p, read, p.partitions === 1 ? undefined : index),
            runnerOptions,
          ),
      ),
    );
  }

  /** The subscriptions (a version, or a partition of one) this daemon runs now: the leases this process holds. */
  get held(): readonly string[] {
    return this.#runners.filter((runner) => runner.state === 'active').map((runner) => runner.name);
  }

  start(): this {
    for (const runner of this.#runners) runner.start();
    return this;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#runners.map((runner) => runner.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

const asynchronousCommit: TransactionOptions = { synchronousCommit: false };
const tracer = trace.getTracer('@myelin/postgres');

class ProjectionConsumer implements Consumer {
  readonly name: string;
  readonly types: readonly string[];
  readonly partition: Partition | undefined;
  readonly #database: Database;
  readonly #projection: Projection;
  readonly #read: ReadEvents;

  constructor(database: Database, p: Projection, read: ReadEvents, partition?: number) {
    this.name = projectionSubscription(p.name, p.version, partition);
    this.types = [...p.handlers.keys()];
    this.partition =
      partition === undefined
        ? undefined
        : { group: projectionSubscription(p.name, p.version), index: partition, count: p.partitions };
    this.#database = database;
    this.#projection = p;
    this.#read = read;
  }

  consume(
    events: readonly StoredEvent[],
    end: LogPosition,
    checkpoint: (sql: Sql) => Promise<void>,
    _lease: unknown,
    caughtUp: boolean,
  ): Promise<'stop' | undefined> {
    return tracer.startActiveSpan(
      `project ${this.#projection.name}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'myelin',
          'messaging.operation.type': 'process',
          'messaging.batch.message_count': events.length,
          'myelin.projection': this.#projection.name,
          'myelin.projection.version': this.#projection.version,
        },
      },
      ROOT_CONTEXT,
      (span) => {
        // A batch applies events of many commands: its span is a trace of its own, linked to each of theirs.
        // Only a recording span wants the links: catching up without an SDK does not parse them.
        if (span.isRecording()) span.addLinks(linksOf(events));
        return withinSpan(span, () => this.#batch(events, end, checkpoint, caughtUp));
      },
    );
  }

  idle(end: LogPosition, checkpoint: (sql: Sql) => Promise<void>): Promise<'stop' | undefined> {
    return this.#batch([], end, checkpoint, true);
  }

  /** One batch: its effects, the checkpoint and (once caught up) the switch, in one transaction. */
  async #batch(
    events: readonly StoredEvent[],
    end: LogPosition,
    checkpoint: (sql: Sql) => Promise<void>,
    caughtUp: boolean,
  ): Promise<'stop' | undefined> {
    const p = this.#projection;
    const s = this.#database.schema;
    // Without waiting for the disk at commit: a batch lost in a crash of the server is lost whole, its checkpoint
    // with its effects, and applied again from the log, which is durable. (No-op catch-up in bench/: about 255k
    // events/s waiting for the disk, 300k without.)
    let switched = false;
    const outcome = await this.#database.transaction(async (sql) => {
      // FOR UPDATE: inline commits (FOR SHARE) and a switch of another version wait for this batch.
      // Partitions share the lock, or their batches (the work worth sharing) would run one at a time.
      const { rows } = await sql.query<{ status: string }>(
        `SELECT status FROM ${s}.projections WHERE name = $1 AND version = $2
         ${this.partition === undefined ? 'FOR UPDATE' : 'FOR SHARE'}`,
        [p.name, p.version],
        prepared,
      );
      const status = rows[0]?.status;
      if (status === undefined || status === 'retired') return 'stop';
      if (p.mode === 'inline' && status === 'active') {
        // The commits that applied it left a mark; the others' events (a direct append, a process running other
        // code) are applied here. Marks behind this batch will not be read again.
        await apply(sql, s, p, await unmarked(sql, s, p, events), this.#read);
        await sql.query(
          `DELETE FROM ${s}.inline_marks WHERE projection = $1 AND version = $2
             AND transaction_id < $3::text::xid8`,
          [p.name, p.version, positionParts(end).transaction],
        );
      } else {
        await apply(sql, s, p, events, this.#read);
      }
      if (events.length > 0) await checkpoint(sql);
      if (status === 'building' && caughtUp) {
        await checkpoint(sql); // fails if this runner lost its lease: a stale runner must not switch
        switched = (await this.#allCaughtUp(sql)) && (await this.#switch(sql, end));
      }
      return undefined;
    }, asynchronousCommit);
    // Another version serves now, once committed: a query must not join a look at the old one's progress begun
    // before. The runner signals after a batch of events, not after an idle step, which may have switched too.
    if (switched) progressSignal(this.#database).committed();
    return outcome;
  }

  /**
   * Whether this partition, now caught up, is the one to switch its version in: all its partitions have caught
   * up once, and no other is switching it (one that holds the row's share lock and waits for the update would
   * deadlock with another doing the same, so only the holder of the advisory lock waits).
   */
  async #allCaughtUp(sql: Sql): Promise<boolean> {
    if (this.partition === undefined) return true;
    const s = this.#database.schema;
    const { group, count } = this.partition;
    await sql.query(`UPDATE ${s}.subscriptions SET caught_up = true WHERE name = $1 AND NOT caught_up`, [
      this.name,
    ]);
    const { rows } = await sql.query<{ switching: boolean }>(
      `SELECT CASE WHEN count(*) = $2 THEN pg_try_advisory_xact_lock(hashtextextended($3, 0)) ELSE false END
         AS switching
       FROM ${s}.subscriptions WHERE starts_with(name, $1 || ':p') AND caught_up`,
      [group, count, `myelin.switch:${this.#database.schemaName}:${group}`],
    );
    return rows[0]?.switching === true;
  }

  /** Makes this version the one serving, retires the others and drops their read models; false if a newer comes. */
  async #switch(sql: Sql, end: LogPosition): Promise<boolean> {
    const p = this.#projection;
    const s = this.#database.schema;
    const { rows: newer } = await sql.query(
      `SELECT FROM ${s}.projections WHERE name = $1 AND version > $2 AND status <> 'retired'`,
      [p.name, p.version],
    );
    if (newer.length > 0) return false; // a newer version is coming: it will take over, not this one
    if (p.mode === 'inline') {
      // Commits that saw this version building have committed (the row lock waited for them); the ones after it
      // will apply it inline. So apply everything committed now, horizon or not, and none of theirs.
      const { transaction, sequence } = positionParts(end);
      const { rows } = await sql.query<EventRow>(
        `SELECT ${eventColumns()} FROM ${s}.events
         WHERE (transaction_id, sequence) > ($1::text::xid8, $2::bigint)
           AND type IN (SELECT jsonb_array_elements_text($3::text::jsonb))
         ORDER BY transaction_id, sequence`,
        [transaction, sequence, JSON.stringify(this.types)],
      );
      const caughtUp = rows.map(toStoredEvent);
      await apply(sql, s, p, caughtUp, this.#read);
      // Read again by the runner once active: marked, so that it does not apply them twice.
      await markApplied(sql, s, p, [
        ...new Set(caughtUp.map((event) => positionParts(event.position).transaction)),
      ]);
    }
    const { rows: retired } = await sql.query<{ version: number }>(
      `UPDATE ${s}.projections SET status = 'retired', retired_at = now()
       WHERE name = $1 AND version <> $2 AND status <> 'retired' RETURNING version`,
      [p.name, p.version],
    );
    await sql.query(
      `UPDATE ${s}.projections SET status = 'active', activated_at = now() WHERE name = $1 AND version = $2`,
      [p.name, p.version],
    );
    if (p.model.kind === 'table') await pointView(sql, s, p);
    for (const { version } of retired) {
      if (p.model.kind === 'documents') {
        await sql.query(`DELETE FROM ${s}.read_documents WHERE model = $1`, [documentKey(p.name, version)]);
      } else {
        await sql.exec(`DROP TABLE IF EXISTS ${tableNames(s, p.name, version)}`);
      }
    }
    return true;
  }
}

/** One link per trace the events were written in. */
function linksOf(events: readonly StoredEvent[]): Link[] {
  return [...new Set(events.map((event) => event.metadata.traceparent))].flatMap((traceparent) => {
    const linked = trace.getSpanContext(contextOf({ traceparent }, ROOT_CONTEXT));
    return linked === undefined ? [] : [{ context: linked }];
  });
}
