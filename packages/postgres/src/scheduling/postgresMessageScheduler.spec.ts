import { localMasterKey, newMasterKey } from '@myelin/core';
import { type SchedulerUnderTest, schedulerContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresStateStoredRepository } from '../repositories/stateStoredRepository.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { PostgresMessageScheduler } from './postgresMessageScheduler.ts';

const masterKey = localMasterKey(newMasterKey());

describe.each(engines)('the scheduler contract on $name', (engine) => {
  let test: TestDatabase;
  let subject: SchedulerUnderTest;
  beforeAll(async () => {
    test = await engine.open();
    subject = {
      persistence: (clock) => postgresPersistence(test.database, { clock, personalData: { masterKey } }),
      stateStored: (repository, type, options) => postgresStateStoredRepository(repository, type, options),
      scheduler(app, options) {
        const scheduler = new PostgresMessageScheduler(app, test.database, { leaseRetryMs: 50, ...options });
        return {
          start: () => scheduler.start().active(),
          stop: () => scheduler.stop(),
          pending: () => scheduler.pending(),
        };
      },
      async stored() {
        const s = test.database.schema;
        const { rows } = await test.database.query<{ text: string }>(
          `SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n'), '') AS text FROM (
             SELECT to_jsonb(m) AS r FROM ${s}.scheduled_messages m
             UNION ALL SELECT to_jsonb(e) FROM ${s}.events e) t`,
        );
        return rows[0]?.text ?? '';
      },
    };
  });
  afterAll(() => test.drop());

  for (const contract of schedulerContract()) it(contract.name, () => contract.run(subject));
});
