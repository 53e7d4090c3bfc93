import type { AggregateRoot } from '../domain/aggregateRoot.ts';

/**
 * Where aggregates of one type are kept. Changes are not written when a method returns: the unit of work writes
 * every tracked aggregate, with its pending events, when the command's handler succeeds. A handler cannot tell an
 * event-sourced repository from a state-stored one.
 */
export interface Repository<TAggregate extends AggregateRoot<any, any>> {
  /** The aggregate with this id, or undefined. Loaded aggregates are tracked: their new events are saved. */
  get(id: string): Promise<TAggregate | undefined>;
  exists(id: string): Promise<boolean>;
  /** Tracks a new aggregate; committing fails with a conflict if its id is taken. */
  add(aggregate: TAggregate): Promise<void>;
  /** Tracks a changed aggregate; committing fails with a conflict if someone else changed it since it was read. */
  update(aggregate: TAggregate): Promise<void>;
  /** Tracks the removal of an aggregate, under the same concurrency check as `update`. */
  remove(aggregate: TAggregate): Promise<void>;
}

/** Equality on a top-level field, or membership in a list of values. */
export type FieldFilter<TValue> = TValue | { readonly in: readonly TValue[] };

/** Conditions on the top-level fields of an aggregate's state; all must hold. */
export type Filter<TState> = { readonly [K in keyof TState]?: FieldFilter<TState[K]> };

export interface SortOrder<TState> {
  readonly field: keyof TState & string;
  readonly direction?: 'asc' | 'desc';
}

export interface FindQuery<TState> {
  readonly where?: Filter<TState>;
  readonly sort?: readonly SortOrder<TState>[];
  /** 1-based. Defaults to 1. */
  readonly page?: number;
  /** Defaults to 50. */
  readonly pageSize?: number;
}

/** One page of results and what it takes to ask for the others. */
export interface Page<TItem> {
  readonly items: readonly TItem[];
  readonly total: number;
  readonly page: number;
  readonly pageSize: number;
}

/** A state-stored repository can also search by the fields of the stored state. */
export interface QueryableRepository<
  TAggregate extends AggregateRoot<TState, any>,
  TState = TAggregate['state'],
> extends Repository<TAggregate> {
  find(query?: FindQuery<TState>): Promise<Page<TAggregate>>;
}

/** Another writer changed what this one read: the command should fail with 409 (or be retried). */
export class ConcurrencyError extends Error {
  readonly code = 'concurrency_conflict';
  readonly key: string;
  readonly expectedVersion: number | 'no_stream' | 'any';
  readonly actualVersion: number | undefined;

  constructor(key: string, expectedVersion: number | 'no_stream' | 'any', actualVersion: number | undefined) {
    super(
      actualVersion === undefined
        ? `'${key}' was expected at version ${String(expectedVersion)} but does not exist`
        : expectedVersion === 'no_stream'
          ? `'${key}' already exists (at version ${actualVersion})`
          : `'${key}' was expected at version ${String(expectedVersion)} but is at version ${actualVersion}`,
    );
    this.name = 'ConcurrencyError';
    this.key = key;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** True for a {@link ConcurrencyError}, also one from another copy of this package. */
export function isConcurrencyError(error: unknown): error is ConcurrencyError {
  return (error as { code?: unknown } | null)?.code === 'concurrency_conflict';
}
