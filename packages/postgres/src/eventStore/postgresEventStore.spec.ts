import { eventStoreContract, newEvent } from '@myelin/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { migrate } from '../migrations/migrate.ts';
import { engines, postgresUrl, type TestDatabase, testSchema } from '../testing/databases.ts';
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

describe('prepared statements on PostgreSQL', () => {
  it('keep two schemas apart when their databases share one pool and one connection', async () => {
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 1 });
    const schemas = [testSchema(), testSchema()];
    const [a, b] = schemas.map((schema) => postgresDatabase({ pool, schema })) as [Database, Database];
    try {
      await migrate(a);
      await migrate(b);
      const stores = [new PostgresEventStore(a), new PostgresEventStore(b)];
      // The same append text but another schema on one connection: each must go to its own log, every time.
      for (let round = 1; round <= 3; round++) {
        for (const [i, store] of stores.entries()) {
          await store.append(
            's',
            [newEvent('test.happened.v1', { round, store: i })],
            round === 1 ? 'no_stream' : round - 1,
          );
        }
      }
      for (const [i, store] of stores.entries()) {
        expect((await store.readStream('s')).map((event) => event.data)).toEqual(
          [1, 2, 3].map((round) => ({ round, store: i })),
        );
      }
    } finally {
      for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });
});
