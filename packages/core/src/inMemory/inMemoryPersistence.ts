import type { ApplicationBuilder } from '../application/application.ts';
import { eventUnitOfWork, type UnitOfWorkOptions, unitOfWork } from '../behaviors/unitOfWork.ts';
import type { Provider } from '../dependencyInjection/container.ts';
import { type Token, token } from '../dependencyInjection/token.ts';
import type { AggregateRoot, AggregateType } from '../domain/aggregateRoot.ts';
import { ExecutionContext } from '../mediation/executionContext.ts';
import { type AnyEvent, definitionOf, type EventDefinition, payloadOf } from '../messages/message.ts';
import { EventStore, type NewEvent } from '../persistence/eventStore.ts';
import { IdempotencyStore } from '../persistence/idempotencyStore.ts';
import type { FindQuery, Page, QueryableRepository, Repository } from '../persistence/repository.ts';
import { type CommitResult, UnitOfWork } from '../persistence/unitOfWork.ts';
import { type DocumentWrite, InMemoryDatabase, type StreamAppend } from './inMemoryDatabase.ts';
import { InMemoryEventStore } from './inMemoryEventStore.ts';
import { InMemoryIdempotencyStore } from './inMemoryIdempotencyStore.ts';

/** The in-memory database of an application (a singleton). */
export const InMemoryDatabaseToken = token<InMemoryDatabase>('InMemoryDatabase');
const InMemoryUnitOfWorkToken = token<InMemoryUnitOfWork>('InMemoryUnitOfWork');
type WorkDependency = { readonly work: Token<InMemoryUnitOfWork> };

interface Tracked {
  readonly aggregate: AggregateRoot<unknown, AnyEvent>;
  readonly storage: 'state' | 'events';
  /** The collection (state-stored) or stream (event-sourced) the aggregate lives in. */
  readonly key: string;
  operation: 'add' | 'update' | 'remove' | 'loaded';
}

/**
 * The unit of work over memory: tracks the aggregates a command touches and writes them, with their events, in one
 * atomic commit; then delivers the events to the application's event handlers (in process, after the commit, as
 * the relay does with a database).
 */
export class InMemoryUnitOfWork implements UnitOfWork {
  readonly #tracked = new Map<string, Tracked>();

  readonly database: InMemoryDatabase;
  readonly context: ExecutionContext;

  constructor(database: InMemoryDatabase, context: ExecutionContext) {
    this.database = database;
    this.context = context;
  }

  /** @internal */
  tracked(
    storage: Tracked['storage'],
    key: string,
    id: string,
  ): AggregateRoot<unknown, AnyEvent> | undefined {
    return this.#tracked.get(`${storage}:${key}:${id}`)?.aggregate;
  }

  /** @internal */
  track(entry: Tracked): void {
    const id = `${entry.storage}:${entry.key}:${entry.aggregate.id}`;
    const existing = this.#tracked.get(id);
    if (existing !== undefined && existing.aggregate !== entry.aggregate) {
      throw new Error(`Two different instances of '${id}' are tracked in one unit of work`);
    }
    // 'add' and 'remove' are decisions; 'loaded' and 'update' never undo them.
    if (existing === undefined || entry.operation === 'add' || entry.operation === 'remove')
      this.#tracked.set(id, entry);
  }

  async commit(): Promise<CommitResult> {
    const documents: DocumentWrite[] = [];
    const appends: StreamAppend[] = [];
    const raised: { event: AnyEvent; metadata: NewEvent['metadata'] }[] = [];
    for (const entry of this.#tracked.values()) {
      const { aggregate, storage, key, operation } = entry;
      const events: NewEvent[] = aggregate.pendingEvents.map((event) => {
        const definition = definitionOf(event) as EventDefinition;
        const metadata = this.context.eventMetadata(definition.type, definition.options.version ?? 1);
        raised.push({ event, metadata });
        return { data: payloadOf(event), metadata };
      });
      const expected = operation === 'add' ? 'no_stream' : aggregate.version;
      if (storage === 'state') {
        if (operation === 'remove' || operation === 'add' || events.length > 0) {
          documents.push({
            collection: key,
            id: aggregate.id,
            expectedVersion: expected,
            state: operation === 'remove' ? undefined : aggregate.state,
            version: aggregate.nextVersion,
          });
        }
        if (events.length > 0)
          appends.push({ streamId: `${key}-${aggregate.id}`, expectedVersion: 'any', events });
      } else {
        if (operation === 'remove') {
          documents.push({
            collection: `${key}:removed`,
            id: aggregate.id,
            expectedVersion: 'no_stream',
            state: true,
            version: 0,
          });
        }
        if (events.length > 0 || operation === 'remove') {
          appends.push({ streamId: `${key}-${aggregate.id}`, expectedVersion: expected, events });
        }
      }
    }
    const stored = this.database.commit(documents, appends);
    for (const entry of this.#tracked.values()) entry.aggregate.markCommitted();
    this.#tracked.clear();
    // Delivered after the commit and all of them, even when a handler fails; failures are then thrown together.
    const failures: unknown[] = [];
    for (const { event, metadata } of raised) {
      await this.context
        .publish(event, {
          eventId: metadata.eventId,
          occurredAt: metadata.occurredAt,
          correlationId: metadata.correlationId,
          causationId: metadata.causationId,
        })
        .catch((error: unknown) => failures.push(error));
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, 'Event handlers failed after the commit');
    return { events: stored, position: stored.at(-1)?.position };
  }

  async rollback(): Promise<void> {
    this.#tracked.clear();
  }
}

/** Options of an in-memory state-stored repository. */
export interface StateStoredOptions {
  /** The collection the documents live in; defaults to the aggregate class's name. */
  readonly collection?: string;
}

/**
 * A repository keeping each aggregate as a document (its state and version), with `find` over the state's fields.
 * @example app.register(inMemoryStateStoredRepository(Customers, Customer));
 */
export function inMemoryStateStoredRepository<TAggregate extends AggregateRoot<any, any>>(
  repositoryToken: Token<QueryableRepository<TAggregate>> | Token<Repository<TAggregate>>,
  type: AggregateType<TAggregate>,
  options: StateStoredOptions = {},
): Provider<QueryableRepository<TAggregate>, WorkDependency> {
  const collection = options.collection ?? type.name;
  return {
    token: repositoryToken as Token<QueryableRepository<TAggregate>>,
    lifetime: 'scoped',
    dependencies: { work: InMemoryUnitOfWorkToken },
    factory: ({ work }) => {
      const load = (id: string, state: unknown, version: number): TAggregate => {
        const tracked = work.tracked('state', collection, id);
        if (tracked !== undefined) return tracked as TAggregate;
        const aggregate = new type(id).restore(state, version);
        work.track({ aggregate, storage: 'state', key: collection, operation: 'loaded' });
        return aggregate;
      };
      return {
        async get(id) {
          const tracked = work.tracked('state', collection, id);
          if (tracked !== undefined) return tracked as TAggregate;
          const stored = work.database.document(collection, id);
          return stored === undefined ? undefined : load(id, stored.state, stored.version);
        },
        async exists(id) {
          return work.database.document(collection, id) !== undefined;
        },
        async add(aggregate) {
          work.track({ aggregate, storage: 'state', key: collection, operation: 'add' });
        },
        async update(aggregate) {
          work.track({ aggregate, storage: 'state', key: collection, operation: 'update' });
        },
        async remove(aggregate) {
          work.track({ aggregate, storage: 'state', key: collection, operation: 'remove' });
        },
        async find(query: FindQuery<TAggregate['state']> = {}): Promise<Page<TAggregate>> {
          const page = query.page ?? 1;
          const pageSize = query.pageSize ?? 50;
          const matching = work.database
            .documents(collection)
            .filter((document) => matches(document.state as Record<string, unknown>, query.where ?? {}))
            .sort((a, b) =>
              compare(
                a.state as Record<string, unknown>,
                b.state as Record<string, unknown>,
                query.sort ?? [],
              ),
            );
          const items = matching
            .slice((page - 1) * pageSize, page * pageSize)
            .map((document) => load(document.id, document.state, document.version));
          return { items, total: matching.length, page, pageSize };
        },
      };
    },
  };
}

/** Options of an in-memory event-sourced repository. */
export interface EventSourcedOptions {
  /** Every event the aggregate raises, so stored events can be turned back into instances. */
  readonly events: readonly EventDefinition[];
  /** The prefix of the aggregate's streams (`${stream}-${id}`); defaults to the class's name. */
  readonly stream?: string;
}

/**
 * A repository rebuilding each aggregate from its stream of events.
 * @example app.register(inMemoryEventSourcedRepository(Orders, Order, { events: [OrderPlaced, OrderCancelled] }));
 */
export function inMemoryEventSourcedRepository<TAggregate extends AggregateRoot<any, any>>(
  repositoryToken: Token<Repository<TAggregate>>,
  type: AggregateType<TAggregate>,
  options: EventSourcedOptions,
): Provider<Repository<TAggregate>, WorkDependency> {
  const prefix = options.stream ?? type.name;
  const definitions = new Map(options.events.map((definition) => [definition.type, definition]));
  return {
    token: repositoryToken,
    lifetime: 'scoped',
    dependencies: { work: InMemoryUnitOfWorkToken },
    factory: ({ work }) => {
      const isRemoved = (id: string) => work.database.document(`${prefix}:removed`, id) !== undefined;
      return {
        async get(id) {
          const tracked = work.tracked('events', prefix, id);
          if (tracked !== undefined) return tracked as TAggregate;
          const stream = work.database.stream(`${prefix}-${id}`);
          if (stream === undefined || isRemoved(id)) return undefined;
          const events = stream.map((stored) => {
            const definition = definitions.get(stored.metadata.type);
            if (definition === undefined) {
              throw new Error(
                `${type.name} repository: event type '${stored.metadata.type}' is not in its events list`,
              );
            }
            return new definition(structuredClone(stored.data));
          });
          const aggregate = new type(id).loadFromHistory(events);
          work.track({ aggregate, storage: 'events', key: prefix, operation: 'loaded' });
          return aggregate;
        },
        async exists(id) {
          return work.database.stream(`${prefix}-${id}`) !== undefined && !isRemoved(id);
        },
        async add(aggregate) {
          work.track({ aggregate, storage: 'events', key: prefix, operation: 'add' });
        },
        async update(aggregate) {
          work.track({ aggregate, storage: 'events', key: prefix, operation: 'update' });
        },
        async remove(aggregate) {
          work.track({ aggregate, storage: 'events', key: prefix, operation: 'remove' });
        },
      };
    },
  };
}

/**
 * Registers the in-memory adapters: the database, the event store, the idempotency keys, the unit of work and
 * its behavior.
 * Add repositories with {@link inMemoryStateStoredRepository} and {@link inMemoryEventSourcedRepository}.
 * @example const app = await createApplication().include(inMemoryPersistence()).register(...).build();
 */
export function inMemoryPersistence(
  database: InMemoryDatabase = new InMemoryDatabase(),
  options: UnitOfWorkOptions = {},
) {
  return (builder: ApplicationBuilder): void => {
    builder
      .singleton(InMemoryDatabaseToken, () => database)
      .singleton(
        EventStore,
        { database: InMemoryDatabaseToken },
        ({ database }) => new InMemoryEventStore(database),
      )
      .singleton(IdempotencyStore, () => new InMemoryIdempotencyStore())
      .scoped(
        InMemoryUnitOfWorkToken,
        { database: InMemoryDatabaseToken, context: ExecutionContext },
        ({ database, context }) => new InMemoryUnitOfWork(database, context),
      )
      .scoped(UnitOfWork, { work: InMemoryUnitOfWorkToken }, ({ work }) => work)
      .use(unitOfWork(options))
      .use(eventUnitOfWork());
  };
}

function matches(state: Record<string, unknown>, where: Record<string, unknown>): boolean {
  for (const [field, condition] of Object.entries(where)) {
    if (condition === undefined) continue;
    const value = state[field];
    if (typeof condition === 'object' && condition !== null && 'in' in condition) {
      if (!(condition as { in: readonly unknown[] }).in.includes(value)) return false;
    } else if (value !== condition) return false;
  }
  return true;
}

function compare(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  sort: readonly { readonly field: string; readonly direction?: 'asc' | 'desc' }[],
): number {
  for (const { field, direction } of sort) {
    const x = a[field] as string | number;
    const y = b[field] as string | number;
    if (x === y) continue;
    const order = x === undefined ? -1 : y === undefined ? 1 : x < y ? -1 : 1;
    return direction === 'desc' ? -order : order;
  }
  return 0;
}
