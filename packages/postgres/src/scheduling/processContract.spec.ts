import { type Application, Clock } from '@myelin/core';
import { type ProcessesUnderTest, processContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { PostgresOperations } from '../operations/postgresOperations.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { EventRelay } from '../relay/eventRelay.ts';
import { postgresStateStoredRepository } from '../repositories/stateStoredRepository.ts';
import { logSignal, progressSignal } from '../subscriptions/logSignal.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { PostgresMessageScheduler } from './postgresMessageScheduler.ts';

/**
 * Until the relay's handlers have handled everything in the log and nothing due is waiting in the schedule; woken
 * by the runners' progress and by commits.
 */
async function settled(database: Database, app: Application): Promise<void> {
  const operations = new PostgresOperations(database);
  const clock = app.container.root.resolve(Clock);
  const progress = progressSignal(database);
  const log = logSignal(database);
  for (;;) {
    const seen = [progress.generation, log.generation] as const;
    const { subscriptions } = await operations.status();
    const { rows } = await database.query<{ due: number }>(
      `SELECT count(*)::int AS due FROM ${database.schema}.scheduled_messages
       WHERE status = 'scheduled' AND due_at <= $1`,
      [clock.now()],
    );
    const handlersDone = subscriptions
      .filter((s) => s.kind === 'handler')
      .every((s) => s.lagEvents === 0 && s.retrying === 0);
    if (handlersDone && rows[0]?.due === 0) return;
    await Promise.race([progress.wait(1000, undefined, seen[0]), log.wait(1000, undefined, seen[1])]);
  }
}

describe.each(engines)('the process manager contract on $name', (engine) => {
  let test: TestDatabase;
  let subject: ProcessesUnderTest;
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
      deliver(app) {
        const relay = new EventRelay(app, test.database, {
          pollMs: 200,
          leaseRetryMs: 50,
          onError: () => {},
        });
        return relay.start();
      },
      settled: (app) => settled(test.database, app),
    };
  });
  afterAll(() => test.drop());

  for (const contract of processContract()) it(contract.name, () => contract.run(subject));
});
