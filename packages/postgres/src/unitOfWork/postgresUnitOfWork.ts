import {
  type AggregateRoot,
  type AnyEvent,
  type CommitResult,
  ConcurrencyError,
  DataKeyGoneError,
  definitionOf,
  type EventDefinition,
  type ExecutionContext,
  type NewEvent,
  payloadOf,
  type ScheduleChange,
  type StoredEvent,
  sealScheduled,
  token,
  tracingEnabled,
  type UnitOfWork,
  withinSpan,
} from '@myelin/core';
import { type Counter, type MeterProvider, metrics, SpanKind, trace } from '@opentelemetry/api';
import { type Database, type Sql, sqlState } from '../database/database.ts';
import { isDuplicate } from '../eventStore/postgresEventStore.ts';
import type { Protection } from '../personalData/protection.ts';
import { removeDelivered, writeScheduleChanges } from '../scheduling/scheduledMessages.ts';
import { logSignal, scheduleSignal } from '../subscriptions/logSignal.ts';
import { BatchedWrites, type BatchWrite, thenWriteBatched } from './batchedWrites.ts';
import { groupCommit } from './groupCommit.ts';

const tracer = trace.getTracer('@myelin/postgres');
let appended: { readonly provider: MeterProvider; readonly counter: Counter } | undefined;

/**
 * The `myelin.events.appended` counter of the meter provider registered now. OpenTelemetry's API hands no
 * instrument made earlier to a provider registered later, so it is made again when the provider changes.
 */
function eventsAppended(): Counter {
  const provider = metrics.getMeterProvider();
  if (appended?.provider !== provider) {
    const counter = provider.getMeter('@myelin/postgres').createCounter('myelin.events.appended', {
      unit: '{event}',
      description: 'Events committed to the log by units of work',
    });
    appended = { provider, counter };
  }
  return appended.counter;
}

/** The database semantic conventions' attributes of a commit. */
const commitAttributes = { 'db.system.name': 'postgresql', 'db.operation.name': 'COMMIT' } as const;

/** What a command did to one aggregate, as the unit of work hands it to the aggregate's repository to write. */
export interface Change {
  readonly aggregate: AggregateRoot<unknown, AnyEvent>;
  readonly operation: 'add' | 'update' | 'remove' | 'loaded';
  /** The aggregate's pending events, with their metadata. */
  readonly events: readonly NewEvent[];
}

/** An aggregate a repository loaded or was given, and how its repository writes it. @internal */
export interface Tracked {
  readonly aggregate: AggregateRoot<unknown, AnyEvent>;
  operation: Change['operation'];
  /** Whether the change needs writing at all. */
  readonly changed: (change: Change) => boolean;
  /** Whether the write is one statement, atomic by itself (then a lone change needs no BEGIN/COMMIT). */
  readonly single: (change: Change) => boolean;
  /** Writes the change through `sql` (the commit's transaction) and returns the events it stored. */
  readonly write: (sql: Sql, change: Change) => Promise<readonly StoredEvent[]>;
}

/** SQL to run in the commit's transaction after the aggregates are written (an inline projection, say). */
export type Enlisted = (sql: Sql, events: readonly StoredEvent[]) => Promise<void>;

/**
 * The unit of work over PostgreSQL or PGlite. Repositories track what a command loads and changes; nothing is
 * written while the handler runs. When it succeeds, one transaction writes every changed aggregate (state-stored
 * or event-sourced) with its pending events into the log, which is the outbox: relays and projections read it
 * after the commit, so no event is published for a change that did not happen. Reads outside that transaction
 * are safe because every write checks the version it was based on; a stale one fails the commit with a
 * ConcurrencyError (a 409). Writing only at commit also keeps transactions short, which PGlite's single
 * connection needs.
 */
export class PostgresUnitOfWork implements UnitOfWork {
  readonly #tracked = new Map<string, Tracked>();
  readonly #enlisted: { write: Enlisted; when: ((types: ReadonlySet<string>) => boolean) | undefined }[] = [];
  readonly #batched = new BatchedWrites();
  readonly #afterCommit: (() => void)[] = [];
  readonly #protection: Protection | undefined;
  /** What it scheduled or cancelled, in clear: sealed at each attempt to commit, with the subjects' keys then. */
  readonly #schedule: ScheduleChange[] = [];
  readonly database: Database;
  readonly context: ExecutionContext;

  constructor(database: Database, context: ExecutionContext, protection?: Protection) {
    this.database = database;
    this.context = context;
    this.#protection = protection;
  }

  /** @internal Runs `then` once this unit of work has committed (not if it fails or rolls back). */
  afterCommit(then: () => void): void {
    this.#afterCommit.push(then);
  }

  /** @internal The aggregate tracked under `key`, if any: one instance per aggregate per command. */
  tracked(key: string): AggregateRoot<unknown, AnyEvent> | undefined {
    return this.#tracked.get(key)?.aggregate;
  }

  /** @internal */
  track(key: string, entry: Tracked): void {
    const existing = this.#tracked.get(key);
    if (existing !== undefined && existing.aggregate !== entry.aggregate) {
      throw new Error(`Two different instances of '${key}' are tracked in one unit of work`);
    }
    // 'add' and 'remove' are decisions; 'loaded' and 'update' never undo them.
    if (existing === undefined || entry.operation === 'add' || entry.operation === 'remove') {
      this.#tracked.set(key, entry);
    }
  }

  /**
   * Runs `write` in the commit's transaction, after the aggregates are written, with the events they stored.
   * With `when`, only if it accepts the types of the events about to be written (so that a hook for some event
   * types does not turn every commit into a transaction).
   */
  enlist(write: Enlisted, when?: (types: ReadonlySet<string>) => boolean): void {
    this.#enlisted.push({ write, when });
  }

  /**
   * Adds `item` to the rows written under `key` at commit, by one call of `write` with all of them: the items of
   * every unit of work committing in the same transaction, which is many when a bus consumer delivers many events
   * at once. Per event handler, `write` is one statement (`INSERT ... SELECT * FROM unnest($1::text[], ...)`), so
   * a row per event costs one round trip per batch. Written after the aggregates and the enlisted writes.
   * @example work.enlistBatched('orders.received', { id: event.orderId }, (sql, rows) =>
   *   sql.query('INSERT INTO received (id) SELECT unnest($1::text[])', [rows.map((row) => row.id)]));
   */
  enlistBatched<TItem>(key: string, item: TItem, write: BatchWrite<TItem>): void {
    this.#batched.add(key, item, write);
  }

  /** @internal A message scheduled or cancelled by this unit of work (see `Schedule`), written at commit. */
  schedule(change: ScheduleChange): void {
    this.#schedule.push(change);
  }

  /** Commits, in a span of its own (`commit`, with how many events it wrote and where they are in the log). */
  commit(): Promise<CommitResult> {
    // Without an SDK the span would record nothing: a bus consumer commits a unit of work per message.
    if (!tracingEnabled()) return this.#onlyBatched() ?? this.#commit();
    return tracer.startActiveSpan('commit', { kind: SpanKind.CLIENT, attributes: commitAttributes }, (span) =>
      withinSpan(span, async () => {
        const result = await this.#commit();
        span.setAttribute('myelin.events', result.events.length);
        if (result.position !== undefined) span.setAttribute('myelin.position', result.position);
        return result;
      }),
    );
  }

  async #commit(): Promise<CommitResult> {
    // A subject forgotten after the events were sealed fails the append (its key is gone), writing nothing: sealed
    // again, with the subject's new key, the second attempt stands.
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#commitOnce();
        if (result.events.length > 0) eventsAppended().add(result.events.length);
        return result;
      } catch (error) {
        if (!(error instanceof DataKeyGoneError)) throw error;
        this.#protection?.forgotten(undefined, error.keyIds);
        if (attempt === 3) {
          this.#enlisted.length = 0;
          this.#batched.clear();
          this.#schedule.length = 0;
          throw error;
        }
      }
    }
  }

  /**
   * The commit of an event delivery that only writes rows as sets (its inbox entry, a row), as most of a bus
   * consumer's are: its rows join the group's statements, and nothing else runs (no sealing, no retry, no frame of
   * the general commit), since every message a consumer takes pays for it. Undefined for any other commit.
   */
  #onlyBatched(): Promise<CommitResult> | undefined {
    if (
      this.#batched.size === 0 ||
      this.#tracked.size > 0 ||
      this.#enlisted.length > 0 ||
      this.#schedule.length > 0 ||
      this.context.delivery === undefined ||
      this.context.scheduled !== undefined
    ) {
      return undefined;
    }
    return groupCommit(this.database)
      .commit(undefined, this.#batched)
      .then(
        () => {
          this.#batched.clear();
          this.#committed();
          return nothingCommitted;
        },
        (error: unknown) => {
          this.#batched.clear();
          throw error;
        },
      );
  }

  async #commitOnce(): Promise<CommitResult> {
    // Most event deliveries track no aggregate (they write rows, or nothing): they skip the gathering of events.
    const changes = this.#tracked.size === 0 ? [] : await this.#changes();
    // The written types are gathered only when some enlisted write asks for them: most commits have none.
    let types: ReadonlySet<string> | undefined;
    const written = () =>
      (types ??= new Set(changes.flatMap(({ change }) => change.events.map((event) => event.metadata.type))));
    // Kept until the commit ends: a commit sealed with a key deleted meanwhile is tried again, with them.
    const enlisted =
      this.#enlisted.length === 0
        ? none
        : this.#enlisted
            .filter(({ when }) => when === undefined || when(written()))
            .map(({ write }) => write);
    // A scheduled command's delivery removes its message with its effects, or has none (see ExecuteOptions). It
    // goes first: a second delivery at once waits on the row's lock, then finds it gone, before any other write.
    const delivered = this.context.scheduled;
    const batched = await this.#withSchedule();
    if (changes.length === 0 && enlisted.length === 0 && batched === undefined && delivered === undefined) {
      this.#tracked.clear();
      this.#enlisted.length = 0;
      this.#committed();
      return nothingCommitted;
    }
    // Rows written as sets and nothing else, as a bus delivery's commit often is (its inbox entry, a row): the
    // batched rows are all there is to write.
    const onlyBatched = changes.length === 0 && enlisted.length === 0 && delivered === undefined;
    const run = async (sql: Sql) => {
      if (delivered !== undefined) {
        await removeDelivered(sql, this.database.schema, delivered, this.context.messageId);
      }
      const stored: StoredEvent[] = [];
      for (const { entry, change } of changes) stored.push(...(await entry.write(sql, change)));
      for (const write of enlisted) await write(sql, stored);
      return stored;
    };
    const lone =
      delivered === undefined &&
      changes.length === 1 &&
      enlisted.length === 0 &&
      batched === undefined &&
      changes[0]?.entry.single(changes[0].change);
    let stored: StoredEvent[];
    try {
      // Event deliveries from a bus arrive many at once: their commits share transactions (see GroupCommit).
      stored = lone
        ? await run(this.database)
        : this.context.delivery !== undefined
          ? await groupCommit(this.database)
              .commit(onlyBatched ? undefined : run, batched)
              .then((written) => written ?? [])
          : await this.database.transaction(thenWriteBatched(run, batched));
    } catch (error) {
      if (error instanceof DataKeyGoneError) throw error; // tried again by commit(), with everything
      this.#enlisted.length = 0;
      this.#batched.clear();
      this.#schedule.length = 0;
      if (isDuplicate(error)) {
        // Another commit stored the same event ids or stream versions first.
        const conflict = new ConcurrencyError('the event log', 'any', undefined);
        conflict.message = `A concurrent commit wrote the same events first: ${(error as Error).message}`;
        throw conflict;
      }
      if (isTransientConflict(error)) {
        // PostgreSQL ended this transaction to let a concurrent one through (two that locked the same things in
        // opposite orders, say): nothing was written, and the same work tried again succeeds. A conflict, then,
        // which `retryOnConflict` retries and HTTP answers 409, not a server error.
        const conflict = new ConcurrencyError('the transaction', 'any', undefined);
        conflict.message = `A concurrent transaction conflicted with this commit, which wrote nothing: ${(error as Error).message}`;
        throw conflict;
      }
      throw error;
    }
    for (const entry of this.#tracked.values()) entry.aggregate.markCommitted();
    this.#tracked.clear();
    this.#enlisted.length = 0;
    this.#batched.clear();
    if (stored.length > 0) logSignal(this.database).committed(stored.at(-1)?.position);
    if (this.#schedule.length > 0) scheduleSignal(this.database).committed();
    this.#schedule.length = 0;
    this.#committed();
    return { events: stored, position: stored.at(-1)?.position };
  }

  /**
   * The batched rows, and the schedule's changes with the personal data of the events it holds sealed; written
   * as a set too, the changes of every unit of work in the transaction in one statement.
   */
  async #withSchedule(): Promise<BatchedWrites | undefined> {
    if (this.#schedule.length === 0) return this.#batched.size > 0 ? this.#batched : undefined;
    const protection = this.#protection;
    const changes =
      protection === undefined
        ? this.#schedule
        : await sealScheduled(this.#schedule, (events) => protection.seal(events));
    const batched = new BatchedWrites();
    batched.merge(this.#batched);
    const schema = this.database.schema;
    const write: BatchWrite<ScheduleChange> = (sql, all) => writeScheduleChanges(sql, schema, all);
    for (const change of changes) batched.add('myelin.schedule', change, write);
    return batched;
  }

  /** The tracked aggregates' changes, their new events sealed (together: one look-up of the subjects' keys). */
  async #changes(): Promise<{ entry: Tracked; change: Change }[]> {
    const changes: { entry: Tracked; change: Change }[] = [];
    const raised: NewEvent[][] = [];
    for (const entry of this.#tracked.values()) {
      raised.push(
        entry.aggregate.pendingEvents.map((event): NewEvent => {
          const definition = definitionOf(event) as EventDefinition;
          return {
            data: payloadOf(event),
            metadata: this.context.eventMetadata(definition.type, definition.options.version ?? 1),
          };
        }),
      );
    }
    const all = raised.flat();
    const sealed = this.#protection === undefined ? all : await this.#protection.seal(all);
    let next = 0;
    for (const [i, entry] of [...this.#tracked.values()].entries()) {
      const count = raised[i]?.length ?? 0;
      const events = sealed.slice(next, next + count);
      next += count;
      const change: Change = { aggregate: entry.aggregate, operation: entry.operation, events };
      if (entry.changed(change)) changes.push({ entry, change });
    }
    return changes;
  }

  #committed(): void {
    if (this.#afterCommit.length === 0) return;
    for (const then of this.#afterCommit.splice(0)) then();
  }

  async rollback(): Promise<void> {
    this.#afterCommit.length = 0;
    this.#tracked.clear();
    this.#enlisted.length = 0;
    this.#batched.clear();
    this.#schedule.length = 0;
  }
}

const none: readonly never[] = Object.freeze([]);
const nothingCommitted: CommitResult = Object.freeze({ events: none, position: undefined });

/** The unit of work of the current command, for repositories and for SQL that must commit with it. */
export const PostgresUnitOfWorkToken = token<PostgresUnitOfWork>('PostgresUnitOfWork');

/** A repository's add, update and remove: each tracks the aggregate for the commit. @internal */
export function trackingMethods<TAggregate extends AggregateRoot<any, any>>(
  work: PostgresUnitOfWork,
  key: (id: string) => string,
  tracking: (aggregate: TAggregate, operation: Change['operation']) => Tracked,
) {
  const track = (operation: Change['operation']) => async (aggregate: TAggregate) =>
    work.track(key(aggregate.id), tracking(aggregate, operation));
  return { add: track('add'), update: track('update'), remove: track('remove') };
}

/** A deadlock PostgreSQL broke by ending this transaction, or a serialization failure: gone when tried again. */
function isTransientConflict(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40P01' || state === '40001';
}
