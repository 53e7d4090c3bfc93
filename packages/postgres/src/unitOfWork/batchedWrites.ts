import type { Sql } from '../database/database.ts';

/** Writes every item of a batch, in one statement if it can: `INSERT ... SELECT ... FROM unnest($1::text[], ...)`. */
export type BatchWrite<TItem> = (sql: Sql, items: readonly TItem[]) => Promise<unknown>;

/**
 * Items that units of work write as sets at commit, grouped by key. Units of work committing together (a bus
 * consumer's deliveries share a transaction, see GroupCommit) merge theirs, so a handler that writes one row per
 * event costs one statement per transaction rather than one round trip per event. @internal
 */
export class BatchedWrites {
  readonly #batches = new Map<string, { write: BatchWrite<any>; items: unknown[] }>();

  get size(): number {
    return this.#batches.size;
  }

  add<TItem>(key: string, item: TItem, write: BatchWrite<TItem>): void {
    const batch = this.#batches.get(key);
    if (batch === undefined) this.#batches.set(key, { write, items: [item] });
    else batch.items.push(item);
  }

  /** Takes in another's items (the first write registered under a key writes them all). */
  merge(other: BatchedWrites): void {
    for (const [key, { write, items }] of other.#batches) {
      const batch = this.#batches.get(key);
      if (batch === undefined) this.#batches.set(key, { write, items: [...items] });
      else batch.items.push(...items);
    }
  }

  /** Writes each batch, in the order their keys were first added. */
  async write(sql: Sql): Promise<void> {
    for (const { write, items } of this.#batches.values()) await write(sql, items);
  }

  clear(): void {
    this.#batches.clear();
  }
}

/** `work`, then the batched rows, through the same `sql` (one transaction's). */
export function thenWriteBatched<T>(
  work: (sql: Sql) => Promise<T>,
  batched: BatchedWrites | undefined,
): (sql: Sql) => Promise<T> {
  if (batched === undefined) return work;
  return async (sql) => {
    const value = await work(sql);
    await batched.write(sql);
    return value;
  };
}
