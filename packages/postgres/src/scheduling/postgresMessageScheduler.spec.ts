import { type SchedulerUnderTest, schedulerContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresStateStoredRepository } from '../repositories/stateStoredRepository.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { PostgresMessageScheduler } from './postgresMessageScheduler.ts';

describe.each(engines)('the scheduler contract on $name', (engine) => {
  let test: TestDatabase;
  let subject: SchedulerUnderTest;
  beforeAll(async () => {
    test = await engine.open();
    subject = {
      persistence: (clock) => postgresPersistence(test.database, { clock }),
      stateStored: (repository, type, options) => postgresStateStoredRepository(repository, type, options),
      scheduler(app, options) {
        const scheduler = new PostgresMessageScheduler(app, test.database, { leaseRetryMs: 50, ...options });
        return {
          start: () => scheduler.start().active(),
          stop: () => scheduler.stop(),
          pending: () => scheduler.pending(),
        };
      },
    };
  });
  afterAll(() => test.drop());

  for (const contract of schedulerContract()) it(contract.name, () => contract.run(subject));
});
