import {
  command,
  createApplication,
  EventStore,
  event,
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
import { eventually } from '../testing/eventually.ts';
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

  /**
   * An application whose `Ring` command, due a minute after it is planned, records how many attempts its message
   * had counted when it ran; with `meanwhile`, it runs that (another process's doing) and then fails.
   */
  async function ringing(clock: TestClock, seen: number[], meanwhile?: (id: string) => Promise<unknown>) {
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
          if (meanwhile === undefined) return ok(undefined);
          await meanwhile(context.scheduled as string);
          throw new Error('the bell is cracked');
        }),
        handler(Plan, { schedule: Schedule }, async (c, { schedule }) =>
          ok(schedule.send(new Ring({ n: c.n }), { after: 60_000 })),
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
    await clock.advance(60_000);
    expect(seen).toEqual([1]);
    // Three starts that never ended (their processes died): as the row holds them after three crashes.
    const id = await plan(2);
    await test.database.query(
      `UPDATE ${test.database.schema}.scheduled_messages SET attempts = 3 WHERE id = $1`,
      [id],
    );
    await clock.advance(60_000);
    expect(seen).toEqual([1]);
    const [parked] = await scheduler.pending();
    expect(parked).toMatchObject({ id, attempts: 3, status: 'parked' });
    expect(parked?.error).toMatch(/started 3 times without an answer/);
    expect(errors.some((message) => message.includes('was parked: started 3 times'))).toBe(true);
  });

  it('lets a process that stalled and fails late settle nothing: a standby counted and parked the message since', async () => {
    const clock = new TestClock();
    const seen: number[] = [];
    const s = test.database.schema;
    // While this process runs the command, a standby that took the lease (this one having stalled) starts it twice
    // more and parks it: what the row holds then.
    const { app, plan } = await ringing(clock, seen, (id) =>
      test.database.query(
        `UPDATE ${s}.scheduled_messages SET attempts = 3, status = 'parked', error = 'parked by the standby'
         WHERE id = $1`,
        [id],
      ),
    );
    await using _app = app;
    await using scheduler = new PostgresMessageScheduler(app, test.database, {
      maxAttempts: 3,
      leaseRetryMs: 50,
      onError: () => {},
    }).start();
    await scheduler.active();
    const id = await plan(3);
    await clock.advance(60_000);
    expect(seen).toEqual([1]);
    expect((await scheduler.pending()).find((m) => m.id === id)).toMatchObject({
      attempts: 3,
      status: 'parked',
      error: 'parked by the standby',
    });
  });

  it('refuses a handlerTimeoutMs no timer can wait for, which would give every command up at once', async () => {
    const { app } = await ringing(new TestClock(), []);
    await using _app = app;
    for (const handlerTimeoutMs of [0, -1, 2 ** 31, Number.POSITIVE_INFINITY]) {
      expect(() => new PostgresMessageScheduler(app, test.database, { handlerTimeoutMs })).toThrow(
        /handlerTimeoutMs must be a positive number up to 2147483647/,
      );
    }
  });
});

describe.each(engines)(
  'the scheduler on $name, beside events scheduled in clear by an older version',
  (engine) => {
    let test: TestDatabase;
    beforeAll(async () => {
      test = await engine.open();
    });
    afterAll(() => test.drop());

    const Greeted = event('spec.scheduler.greeted', unchecked<{ customerId: string; name: string }>(), {
      personal: { subject: 'customerId', fields: ['name'] },
    });

    it('seals them before they go to the log, and leaves them waiting while they cannot be sealed', async () => {
      /** Counts the scheduler's waits on the clock: one each time it waits for a message due later (or now). */
      class CountingClock extends TestClock {
        sleeps = 0;
        override sleep(ms: number, signal?: AbortSignal): Promise<void> {
          this.sleeps++;
          return super.sleep(ms, signal);
        }
      }
      const clock = new CountingClock();
      const s = test.database.schema;
      const errors: string[] = [];
      /** A due event as a version that did not seal scheduled events wrote it. */
      const scheduledInClear = (id: string, name: string) =>
        test.database.query(
          `INSERT INTO ${s}.scheduled_messages (id, message_id, kind, type, type_version, payload, due_at, stream_id,
           correlation_id)
         VALUES ($1, $1 || '-m', 'event', $2, 1, $3::text::jsonb, $4, 'greetings-' || $1, 'c')`,
          [id, Greeted.type, JSON.stringify({ customerId: `c-${id}`, name }), clock.now()],
        );
      const stored = async (id: string) =>
        (
          await test.database.query<{ text: string }>(
            `SELECT coalesce(string_agg(data::text, ''), '') AS text FROM ${s}.events WHERE stream_id = $1`,
            [`greetings-${id}`],
          )
        ).rows[0]?.text ?? '';
      const waiting = async () =>
        (
          await test.database.query<{ id: string }>(`SELECT id FROM ${s}.scheduled_messages ORDER BY id`)
        ).rows.map((row) => row.id);

      // Without a master key nothing can seal them: they wait, and the log gets nothing in clear.
      {
        await using app = await createApplication()
          .include(postgresPersistence(test.database, { clock }))
          .build();
        // The scheduler's looks for the next due message, counted.
        const query = test.database.query;
        let looks = 0;
        test.database.query = ((text: string, ...rest: never[]) => {
          if (text.includes('min(due_at)')) looks++;
          return query.call(test.database, text, ...rest);
        }) as typeof query;
        try {
          await using scheduler = new PostgresMessageScheduler(app, test.database, {
            leaseRetryMs: 50,
            pollMs: 10,
            onError: (error) => errors.push((error as Error).message),
          }).start();
          await scheduler.active();
          await scheduledInClear('g1', 'Grace Hopper');
          await clock.advance(0);
          expect(await waiting()).toEqual(['g1']);
          expect(await stored('g1')).toBe('');
          const unsealable = () =>
            errors.filter((message) => message.includes('no master key is configured'));
          expect(unsealable()).toHaveLength(1);
          // Polled again and again, it neither counts the waiting event as due (which would have it look again at
          // once, for ever: a wait on the clock each time) nor reports the same failure at every poll.
          const seen = looks;
          await eventually(async () => looks >= seen + 5, 'five more polls');
          expect(await waiting()).toEqual(['g1']);
          expect(clock.sleeps).toBe(0);
          expect(unsealable()).toHaveLength(1);
        } finally {
          test.database.query = query;
        }
      }
      // With one, they are sealed, then written: the log holds no name in clear, and reads it back.
      await using app = await createApplication()
        .include(postgresPersistence(test.database, { clock, personalData: { masterKey } }))
        .build();
      await using scheduler = new PostgresMessageScheduler(app, test.database, { leaseRetryMs: 50 }).start();
      await scheduler.active();
      await scheduledInClear('g2', 'Alan Turing');
      await clock.advance(0);
      expect(await waiting()).toEqual([]);
      for (const [id, name] of [
        ['g1', 'Grace Hopper'],
        ['g2', 'Alan Turing'],
      ]) {
        expect(await stored(id as string)).not.toContain(name);
        const [written] = await app.container.root.resolve(EventStore).readStream(`greetings-${id}`);
        expect(written?.data).toEqual({ customerId: `c-${id}`, name });
      }
    });
  },
);
