import type { Provider } from '../dependencyInjection/container.ts';
import type { Token } from '../dependencyInjection/token.ts';
import type { AggregateRoot, AggregateType } from '../domain/aggregateRoot.ts';
import type { EventDefinition } from '../messages/message.ts';
import type { FindQuery, Page, QueryableRepository, Repository } from '../persistence/repository.ts';
import { InMemoryUnitOfWorkToken, type WorkDependency } from './inMemoryUnitOfWork.ts';

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
          // A copy of the stream as it is: commits landing while it is opened add to it.
          const events = (await work.protection.reveal(stream.slice())).map((stored) => {
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

export function matches(state: Record<string, unknown>, where: Record<string, unknown>): boolean {
  for (const [field, condition] of Object.entries(where)) {
    if (condition === undefined) continue;
    const value = state[field];
    if (typeof condition === 'object' && condition !== null && 'in' in condition) {
      if (!(condition as { in: readonly unknown[] }).in.includes(value)) return false;
    } else if (value !== condition) return false;
  }
  return true;
}

export function compare(
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
