import { createApplication, type EventHandler, event, eventHandler, unchecked } from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { EventRelay } from './eventRelay.ts';

const Counted = event('test.partitioned.v1', unchecked<{ stream: string; n: number }>());
const fast = { pollMs: 200, leaseRetryMs: 100, onError: () => {} };

describe.each(engines)('an event handler in partitions on $name', (engine) => {
  let test: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    test = await engine.open();
    store = new PostgresEventStore(test.database);
  });
  afterAll(() => test.drop());

  /** The handler, which records what it was given by stream, in the order given. */
  const recording = (partitions: number, seen: Map<string, number[]>): EventHandler =>
    eventHandler({ name: 'recorder', partitions }, Counted, (e) => {
      seen.set(e.stream, [...(seen.get(e.stream) ?? []), e.n]);
    });
  const append = async (streams: number, from: number, count: number) => {
    for (let n = from; n < from + count; n++) {
      for (let s = 0; s < streams; s++)
        await store.append(`st-${s}`, [newEvent(Counted.type, { stream: `st-${s}`, n })]);
    }
  };
  const total = (seen: Map<string, number[]>) => [...seen.values()].reduce((sum, ns) => sum + ns.length, 0);

  it('delivers each event once, each stream in order, across its partitions; repartitioned, it goes on where it was', async () => {
    const seen = new Map<string, number[]>();
    await append(10, 1, 4);
    const first = await createApplication()
      .include(postgresPersistence(test.database))
      .handle(recording(1, seen))
      .build();
    const whole = new EventRelay(first, test.database, fast).start();
    await eventually(
      () => total(seen) === 40,
      () => total(seen),
    );
    await whole.stop();

    // The same handler in three partitions: it starts where the handler had read to, not at the log's start.
    await append(10, 5, 4);
    const second = await createApplication()
      .include(postgresPersistence(test.database))
      .handle(recording(3, seen))
      .build();
    const relay = new EventRelay(second, test.database, fast).start();
    try {
      expect(relay.subscriptions).toEqual([0, 1, 2].map((k) => `relay:${Counted.type}:recorder:p${k}of3`));
      // Until every partition has read past the last event: a second delivery would have come by then.
      const s = test.database.schema;
      await eventually(
        async () => {
          const { rows } = await test.database.query<{ behind: number }>(
            `SELECT count(*)::int AS behind FROM ${s}.subscriptions c
           WHERE c.name LIKE 'relay:%:recorder:p%of3' AND (c.transaction_id, c.sequence) <
             (SELECT transaction_id, sequence FROM ${s}.events ORDER BY transaction_id DESC, sequence DESC LIMIT 1)`,
          );
          return rows[0]?.behind === 0 && total(seen) >= 80;
        },
        () => total(seen),
      );
      expect(seen.size).toBe(10);
      for (const ns of seen.values()) expect(ns).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await relay.stop();
    }
  });
});
