import { describe, it } from 'vitest';
import type { Application } from '../application/application.ts';
import { type ProjectionsUnderTest, projectionContract } from '../testing/projectionContract.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
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
