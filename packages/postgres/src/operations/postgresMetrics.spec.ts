import {
  AggregateRoot,
  command,
  createApplication,
  documents,
  event,
  eventHandler,
  handler,
  ok,
  projection,
  type Repository,
  token,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresProjections } from '../projections/postgresProjections.ts';
import { EventRelay, relaySubscription } from '../relay/eventRelay.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { postgresMetrics } from './postgresMetrics.ts';

class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const Counted = event('metrics.counted.v1', unchecked<{ n: number }>());
const Broken = event('metrics.broken.v1', unchecked<{ n: number }>());

describe.each(engines)('the PostgreSQL metrics on $name', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open();
  });
  afterAll(() => test.drop());

  async function collect(reader: CollectingReader) {
    const { resourceMetrics } = await reader.collect();
    return (name: string) =>
      (
        resourceMetrics.scopeMetrics[0]?.metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? []
      ).map((point) => ({ attributes: point.attributes, value: point.value as number }));
  }

  it('observe how far behind a projection is, and the dead letters of each relay subscription', async () => {
    const reader = new CollectingReader();
    postgresMetrics(test.database, { meter: new MeterProvider({ readers: [reader] }).getMeter('test') });
    const counts = projection(documents<{ n: number }>('metric-counts')).on(Counted, async () => {});
    const broken = eventHandler({ name: 'metrics.broken' }, Broken, async () => {
      throw new Error('never works');
    });
    await using app = await createApplication()
      .include(postgresPersistence(test.database), postgresProjections([counts]))
      .handle(broken)
      .build();
    const store = new PostgresEventStore(test.database);
    await store.append(
      'm-1',
      [1, 2, 3].map((n) => newEvent(Counted.type, { n })),
    );
    await store.append('m-2', [newEvent(Broken.type, { n: 1 })]);

    // No daemon runs: the new projection has all three events still to apply.
    const before = await collect(reader);
    expect(before('myelin.projection.lag')).toContainEqual({
      attributes: {
        'myelin.projection': 'metric-counts',
        'myelin.projection.version': 1,
        'myelin.projection.status': 'building',
      },
      value: 3,
    });
    const age = before('myelin.projection.lag.age').find(
      (p) => p.attributes['myelin.projection'] === 'metric-counts',
    );
    expect(age?.value).toBeGreaterThanOrEqual(0);
    expect(before('myelin.dead_letters')).toEqual([]);

    // The relay parks the event its handler cannot handle.
    await using relay = new EventRelay(app, test.database, {
      maxAttempts: 1,
      pollMs: 100,
      leaseRetryMs: 100,
      onError: () => {},
    }).start();
    while ((await relay.parked()).length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const running = await collect(reader);
    expect(running('myelin.leases.held')).toEqual([{ attributes: {}, value: 1 }]);
    await relay.stop();
    const after = await collect(reader);
    const subscription = { 'myelin.subscription': relaySubscription(Broken.type, 'metrics.broken') };
    expect(after('myelin.dead_letters')).toEqual([{ attributes: subscription, value: 1 }]);
    // The parked event is behind the handler's checkpoint: no lag, no retry pending.
    expect(after('myelin.relay.lag')).toEqual([{ attributes: subscription, value: 0 }]);
    expect(after('myelin.relay.retries')).toEqual([{ attributes: subscription, value: 0 }]);
    expect(after('myelin.leases.held')).toEqual([{ attributes: {}, value: 0 }]);
    const connections = after('db.client.connection.max');
    if (engine.name === 'postgres') {
      expect(connections).toEqual([
        { attributes: { 'db.client.connection.pool.name': test.database.schemaName }, value: 10 },
      ]);
      expect(
        after('db.client.connection.count').map((p) => p.attributes['db.client.connection.state']),
      ).toEqual(['used', 'idle']);
    } else {
      expect(connections).toEqual([]); // PGlite has one session, no pool
    }
  });

  it('count the events units of work commit (myelin.events.appended)', async () => {
    const reader = new CollectingReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    try {
      const Tab = token<Repository<Tally>>('Tallies');
      const Add = command('metrics.add', unchecked<{ id: string; times: number }>()).returns<void>();
      await using app = await createApplication()
        .include(postgresPersistence(test.database))
        .register(postgresEventSourcedRepository(Tab, Tally, { events: [Counted] }))
        .handle(
          handler(Add, { tallies: Tab }, async ({ id, times }, { tallies }) => {
            const tally = new Tally(id);
            for (let n = 1; n <= times; n++) tally.count(n);
            await tallies.add(tally);
            return ok(undefined);
          }),
        )
        .build();
      await app.mediator.execute(new Add({ id: `t-${crypto.randomUUID()}`, times: 3 }));
      await app.mediator.execute(new Add({ id: `t-${crypto.randomUUID()}`, times: 1 }));
      const { resourceMetrics } = await reader.collect();
      const counter = resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .find((m) => m.descriptor.name === 'myelin.events.appended');
      expect(counter?.dataPoints[0]?.value).toBe(4);
    } finally {
      metrics.disable();
    }
  });
});

class Tally extends AggregateRoot<{ n: number }, InstanceType<typeof Counted>> {
  constructor(id: string) {
    super(id, { n: 0 });
  }
  count(n: number): void {
    this.raise(new Counted({ n }));
  }
  protected override apply(state: { n: number }): { n: number } {
    return { n: state.n + 1 };
  }
}
