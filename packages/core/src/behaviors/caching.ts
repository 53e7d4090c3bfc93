import { type Behavior, BehaviorOrder, behavior } from '../mediation/behavior.ts';
import type { ExecutionContext } from '../mediation/executionContext.ts';
import {
  type AnyMessageDefinition,
  definitionOf,
  type EventDefinition,
  payloadOf,
} from '../messages/message.ts';
import type { OperationResult } from '../results/operationResult.ts';

/**
 * How a query's successful results are cached: for `ttlMs`, and dropped as soon as one of `invalidatedBy` is
 * published. The key defaults to the query's payload; include the principal in it when results differ per user.
 * @example app.cache(GetMenu, { ttlMs: 60_000, invalidatedBy: [PizzaAdded, PizzaRetired] });
 */
export interface CachePolicy<TQuery = any> {
  readonly ttlMs: number;
  readonly invalidatedBy?: readonly EventDefinition[];
  readonly key?: (query: TQuery, context: ExecutionContext) => string;
}

interface Entry {
  readonly result: OperationResult<unknown>;
  readonly expiresAt: number;
  readonly generation: number;
}

// Bumped by clearQueryCaches: every cache of the process drops what it held before (results may hold personal
// data of someone just forgotten, and no cache knows whose data its results hold).
let generation = 0;

/**
 * Drops every cached query result of every application in this process, as forgetting a subject does once it has
 * committed (see `PersonalData`).
 */
export function clearQueryCaches(): void {
  generation += 1;
}

/** Query results in memory, per query type. */
export class QueryCache {
  readonly #entries = new Map<string, Map<string, Entry>>();

  readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  get(type: string, key: string): OperationResult<unknown> | undefined {
    const entries = this.#entries.get(type);
    const entry = entries?.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now() || entry.generation !== generation) {
      entries?.delete(key);
      return undefined;
    }
    return entry.result;
  }

  /**
   * Keeps a result for `ttlMs`. `since` is how many times the caches were cleared when the query began: a result
   * read before `clearQueryCaches` and answered after it is not kept, since it may hold what was just forgotten.
   */
  set(type: string, key: string, result: OperationResult<unknown>, ttlMs: number, since = generation): void {
    if (since !== generation) return;
    let entries = this.#entries.get(type);
    if (entries === undefined) this.#entries.set(type, (entries = new Map()));
    entries.set(key, { result, expiresAt: this.now() + ttlMs, generation });
  }

  /** Forgets every cached result of a query type. */
  invalidate(type: string): void {
    this.#entries.delete(type);
  }
}

/** The caching behavior for the queries that have a policy. Results are shared: treat them as read-only. */
export function caching(
  policies: ReadonlyMap<AnyMessageDefinition, CachePolicy>,
  cache: QueryCache,
): Behavior {
  return behavior(
    {
      name: 'caching',
      order: BehaviorOrder.caching,
      scope: (definition) => definition.kind === 'query' && policies.has(definition),
    },
    async (query, next, context) => {
      const definition = definitionOf(query) as AnyMessageDefinition;
      const policy = policies.get(definition) as CachePolicy;
      const key = policy.key?.(query, context) ?? stableStringify(payloadOf(query));
      const hit = cache.get(definition.type, key);
      if (hit !== undefined) return hit;
      const since = generation;
      const result = await next();
      if (result.ok) cache.set(definition.type, key, result, policy.ttlMs, since);
      return result;
    },
  );
}

/** JSON with sorted keys, so `{a, b}` and `{b, a}` share a cache entry. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
