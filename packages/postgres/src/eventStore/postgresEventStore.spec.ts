import { eventStoreContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { PostgresEventStore } from './postgresEventStore.ts';

describe.each(engines)('the event store on $name', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open();
  });
  afterAll(() => test.drop());

  for (const contract of eventStoreContract()) {
    it(contract.name, () =>
      contract.run({ store: (options) => new PostgresEventStore(test.database, options) }),
    );
  }
});
