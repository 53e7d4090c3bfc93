import { describe, expect, it } from 'vitest';
import { type Application, createApplication } from '../application/application.ts';
import { Logger } from '../behaviors/logging.ts';
import { event, unchecked } from '../messages/message.ts';
import { projection } from '../projections/projection.ts';
import { documents } from '../projections/readModel.ts';
import { newEvent } from '../testing/events.ts';
import { type ProjectionsUnderTest, projectionContract } from '../testing/projectionContract.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryEventStore } from './inMemoryEventStore.ts';
import { inMemoryPersistence } from './inMemoryPersistence.ts';
import { InMemoryProjectionDaemon } from './inMemoryProjectionDaemon.ts';
import { inMemoryProjections } from './inMemoryProjections.ts';
import { inMemoryEventSourcedRepository } from './inMemoryRepositories.ts';

describe('the in-memory projections', () => {
  const database = new InMemoryDatabase();
  const daemons = new WeakMap<Application, InMemoryProjectionDaemon>();
  const daemonOf = (app: Application) => {
    let daemon = daemons.get(app);
    if (daemon === undefined) daemons.set(app, (daemon = new InMemoryProjectionDaemon(app)));
    return daemon;
  };
  const subject: ProjectionsUnderTest = {
    persistence: inMemoryPersistence(database),
    eventSourced: (repository, type, options) => inMemoryEventSourcedRepository(repository, type, options),
    projections: (projections, options) => inMemoryProjections(projections, options),
    runner: (app) => daemonOf(app),
    caughtUp: (app) => daemonOf(app).caughtUp(),
  };
  for (const contract of projectionContract()) it(contract.name, () => contract.run(subject));
});

describe('the in-memory projection daemon’s errors', () => {
  it('go to the application’s Logger when it has one, naming the projection, and the batch is retried', async () => {
    const Happened = event('errors.happened.v1', unchecked<{ n: number }>());
    let failures = 1;
    const model = documents<{ n: number }>('flaky');
    const flaky = projection(model).on(Happened, async (e, docs) => {
      if (failures-- > 0) throw new Error('the disk is full');
      await docs.put('last', { n: e.n });
    });
    const lines: { fields: Record<string, unknown>; message?: string }[] = [];
    const logger = {
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: (fields: object, message?: string) =>
        void lines.push({
          fields: fields as Record<string, unknown>,
          ...(message === undefined ? {} : { message }),
        }),
    };
    const database = new InMemoryDatabase();
    await using app = await createApplication()
      .include(inMemoryPersistence(database), inMemoryProjections([flaky]))
      .singleton(Logger, () => logger)
      .build();
    await new InMemoryEventStore(database).append('s-1', [newEvent(Happened.type, { n: 7 })]);
    await using daemon = new InMemoryProjectionDaemon(app, { retryMs: 10 }).start();
    await daemon.caughtUp();
    expect(lines).toEqual([
      {
        fields: { err: new Error('the disk is full'), worker: 'projection:flaky' },
        message: "projection 'flaky' failed, retrying",
      },
    ]);
  });
});
