import { describe, it } from 'vitest';
import { type SchedulerUnderTest, schedulerContract } from '../testing/schedulerContract.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryMessageScheduler } from './inMemoryMessageScheduler.ts';
import { inMemoryPersistence } from './inMemoryPersistence.ts';
import { inMemoryStateStoredRepository } from './inMemoryRepositories.ts';

describe('the scheduler contract in memory', () => {
  const database = new InMemoryDatabase();
  const subject: SchedulerUnderTest = {
    persistence: (clock) => inMemoryPersistence(database, { clock }),
    stateStored: (repository, type, options) => inMemoryStateStoredRepository(repository, type, options),
    scheduler(app, options) {
      const scheduler = new InMemoryMessageScheduler(app, options);
      return {
        start: async () => scheduler.start(),
        stop: () => scheduler.stop(),
        pending: () => scheduler.pending(),
      };
    },
  };
  for (const contract of schedulerContract()) it(contract.name, () => contract.run(subject));
});
