import { type PersistenceUnderTest, repositoryContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { postgresPersistence } from '../postgresPersistence.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { postgresEventSourcedRepository } from './eventSourcedRepository.ts';
import { postgresStateStoredRepository } from './stateStoredRepository.ts';

describe.each(engines)('the repositories on $name', (engine) => {
  let test: TestDatabase;
  let subject: PersistenceUnderTest;
  beforeAll(async () => {
    test = await engine.open();
    subject = {
      persistence: postgresPersistence(test.database),
      stateStored: (repository, type, options) => postgresStateStoredRepository(repository, type, options),
      eventSourced: (repository, type, options) => postgresEventSourcedRepository(repository, type, options),
    };
  });
  afterAll(() => test.drop());

  for (const contract of repositoryContract()) it(contract.name, () => contract.run(subject));
});
