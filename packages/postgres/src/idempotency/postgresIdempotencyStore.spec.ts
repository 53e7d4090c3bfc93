import { idempotencyStoreContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { PostgresIdempotencyStore } from './postgresIdempotencyStore.ts';

const hour = () => new Date(Date.now() + 3_600_000);

describe.each(engines)('the idempotency store on $name', (engine) => {
  let test: TestDatabase;
  let store: PostgresIdempotencyStore;
  beforeAll(async () => {
    test = await engine.open();
    store = new PostgresIdempotencyStore(test.database);
  });
  afterAll(() => test.drop());

  for (const contract of idempotencyStoreContract()) it(contract.name, () => contract.run({ store }));

  it('deletes expired records as claims arrive', async () => {
    const purging = new PostgresIdempotencyStore(test.database, { purgeIntervalMs: 0 });
    await purging.claim('s', 'k-old', 'fp', new Date(Date.now() - 1000));
    await purging.claim('s', 'k-other', 'fp', hour());
    const { rows } = await test.database.query(
      `SELECT key FROM ${test.database.schema}.idempotency_keys WHERE scope = 's' AND key IN ('k-old', 'k-other')`,
    );
    expect(rows).toEqual([{ key: 'k-other' }]);
  });
});
