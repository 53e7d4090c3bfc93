import {
  command,
  createApplication,
  handler,
  localMasterKey,
  newMasterKey,
  ok,
  Schedule,
  TestClock,
  unchecked,
} from '@myelin/core';
import { type SchedulerUnderTest, schedulerContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe.each(engines)('the scheduler on $name, when a command stops its process', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open();
  });
  afterAll(() => test.drop());

  /** An application whose `Ring` command records how many attempts its message had counted when it ran. */
  async function ringing(clock: TestClock, seen: number[]) {
    const Ring = command('spec.scheduler.ring', unchecked<{ n: number }>()).returns<void>();
    const Plan = command('spec.scheduler.planRing', unchecked<{ n: number }>()).returns<string>();
    const app = await createApplication()
      .include(postgresPersistence(test.database, { clock }))
      .handle(
        handler(Ring, {}, async (_, __, context) => {
          const { rows } = await test.database.query<{ attempts: number }>(
            `SELECT attempts FROM ${test.database.schema}.scheduled_messages WHERE id = $1`,
            [context.scheduled],
          );
          seen.push(rows[0]?.attempts ?? -1);
          return ok(undefined);
        }),
        handler(Plan, { schedule: Schedule }, async (c, { schedule }) =>
          ok(schedule.send(new Ring({ n: c.n }), { after: 0 })),
        ),
      )
      .build();
    const plan = async (n: number) => {
      const result = await app.mediator.execute(new Plan({ n }));
      if (!result.ok) throw new Error(result.problem.detail);
      return result.data;
    };
    return { app, plan };
  }

  it('counts an attempt before running it, and parks, without running, one started maxAttempts times', async () => {
    const clock = new TestClock();
    const seen: number[] = [];
    const errors: string[] = [];
    const { app, plan } = await ringing(clock, seen);
    await using _app = app;
    await using scheduler = new PostgresMessageScheduler(app, test.database, {
      maxAttempts: 3,
      leaseRetryMs: 50,
      onError: (error) => errors.push((error as Error).message),
    }).start();
    await scheduler.active();
    // Attempt 1 is on the row while the command runs: a process it kills leaves it counted.
    await plan(1);
    await clock.advance(0);
    expect(seen).toEqual([1]);
    // Three starts that never ended (their processes died): as the row holds them after three crashes.
    const id = await plan(2);
    await test.database.query(
      `UPDATE ${test.database.schema}.scheduled_messages SET attempts = 3 WHERE id = $1`,
      [id],
    );
    await clock.advance(0);
    expect(seen).toEqual([1]);
    const [parked] = await scheduler.pending();
    expect(parked).toMatchObject({ id, attempts: 3, status: 'parked' });
    expect(parked?.error).toMatch(/started 3 times without an answer/);
    expect(errors.some((message) => message.includes('was parked: started 3 times'))).toBe(true);
  });
});
