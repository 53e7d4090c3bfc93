import { describe, expect, it } from 'vitest';
import { createApplication } from '../application/application.ts';
import { eventHandler, handler } from '../mediation/handler.ts';
import { command, event, unchecked } from '../messages/message.ts';
import { erased, PersonalData } from '../personalData/personalData.ts';
import { ok } from '../results/operationResult.ts';
import { TestClock } from '../scheduling/clock.ts';
import { Schedule } from '../scheduling/schedule.ts';
import { type SchedulerUnderTest, schedulerContract } from '../testing/schedulerContract.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryMessageScheduler } from './inMemoryMessageScheduler.ts';
import { inMemoryPersistence } from './inMemoryPersistence.ts';
import { inMemoryStateStoredRepository } from './inMemoryRepositories.ts';
import { scheduledCollection } from './inMemoryUnitOfWork.ts';

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
    stored: async () => JSON.stringify([database.documents(scheduledCollection), database.log]),
  };
  for (const contract of schedulerContract()) it(contract.name, () => contract.run(subject));
});

describe('the in-memory scheduler and personal data', () => {
  it('gives the handlers of a scheduled event its personal fields in clear, or placeholders once forgotten', async () => {
    const Reminded = event(
      'spec.scheduler.reminded',
      unchecked<{ customerId: string; name: string; at: string }>(),
      { personal: { subject: 'customerId', fields: ['name'] } },
    );
    const Remind = command(
      'spec.scheduler.remind',
      unchecked<{ customerId: string; name: string }>(),
    ).returns<void>();
    const Forget = command('spec.scheduler.forget', unchecked<{ customerId: string }>()).returns<void>();
    const seen: string[] = [];
    const clock = new TestClock();
    await using app = await createApplication()
      .include(inMemoryPersistence(new InMemoryDatabase(), { clock }))
      .handle(
        handler(Remind, { schedule: Schedule }, async (c, { schedule }) => {
          schedule.send(new Reminded({ ...c, at: 'noon' }), { after: 60_000 });
          return ok(undefined);
        }),
        handler(Forget, { personalData: PersonalData }, async (c, { personalData }) => {
          await personalData.forget(c.customerId, { requestedBy: 'dpo' });
          return ok(undefined);
        }),
        eventHandler('spec.scheduler.greeter', Reminded, (e) => {
          seen.push(`${e.customerId}: ${e.name}`);
        }),
      )
      .build();
    await using scheduler = new InMemoryMessageScheduler(app).start();
    expect((await app.mediator.execute(new Remind({ customerId: 'c-1', name: 'Ada Lovelace' }))).ok).toBe(
      true,
    );
    expect((await app.mediator.execute(new Remind({ customerId: 'c-2', name: 'Alan Turing' }))).ok).toBe(
      true,
    );
    expect(JSON.stringify(scheduler.pending())).not.toContain('Lovelace');
    expect((await app.mediator.execute(new Forget({ customerId: 'c-2' }))).ok).toBe(true);
    await clock.advance(60_000);
    expect(seen.sort()).toEqual(['c-1: Ada Lovelace', `c-2: ${erased}`]);
  });
});

describe('scheduling, whatever the adapter', () => {
  it('refuses a handlerTimeoutMs no timer can wait for, which would give every command up at once', async () => {
    await using app = await createApplication()
      .include(inMemoryPersistence(new InMemoryDatabase(), { clock: new TestClock() }))
      .build();
    for (const handlerTimeoutMs of [0, -1, 2 ** 31, Number.POSITIVE_INFINITY]) {
      expect(() => new InMemoryMessageScheduler(app, { handlerTimeoutMs })).toThrow(
        /InMemoryMessageScheduler: handlerTimeoutMs must be a positive number up to 2147483647/,
      );
    }
  });

  it('refuses a due time that is not a date, or is past the year 9999, naming it', async () => {
    const Later = command('spec.scheduler.later', unchecked<{ at: string }>()).returns<string>();
    await using app = await createApplication()
      .include(inMemoryPersistence(new InMemoryDatabase(), { clock: new TestClock() }))
      .handle(
        handler(Later, { schedule: Schedule }, async (c, { schedule }) =>
          ok(schedule.send(new Later({ at: 'x' }), { at: new Date(c.at) })),
        ),
      )
      .build();
    await expect(app.mediator.execute(new Later({ at: '+010000-01-01T00:00:00Z' }))).rejects.toThrow(
      /the due time must fall in the years 1 to 9999/,
    );
    await expect(app.mediator.execute(new Later({ at: 'soon' }))).rejects.toThrow(
      /the due time is not a date/,
    );
    expect(await app.mediator.execute(new Later({ at: '9999-12-31T23:59:59Z' }))).toMatchObject({ ok: true });
  });
});
