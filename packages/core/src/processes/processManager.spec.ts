import { describe, expect, it } from 'vitest';
import { createApplication } from '../application/application.ts';
import { InMemoryDatabase } from '../inMemory/inMemoryDatabase.ts';
import { InMemoryMessageScheduler } from '../inMemory/inMemoryMessageScheduler.ts';
import { inMemoryPersistence } from '../inMemory/inMemoryPersistence.ts';
import { inMemoryStateStoredRepository } from '../inMemory/inMemoryRepositories.ts';
import { command, event, unchecked } from '../messages/message.ts';
import { type ProcessesUnderTest, processContract } from '../testing/processContract.ts';
import { givenProcess } from '../testing/processSpec.ts';
import { processManager } from './processManager.ts';

describe('the process manager contract in memory', () => {
  const database = new InMemoryDatabase();
  const subject: ProcessesUnderTest = {
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
    // In memory, events reach their handlers as they are committed or published, and `advance` waits for what
    // came due; what a timeout sent is due at once, delivered when the scheduler sees the commit.
    deliver: () => ({ stop: async () => {} }),
    settled: async () => {},
  };
  for (const contract of processContract()) it(contract.name, () => contract.run(subject));
});

const minute = 60_000;
const OrderPlaced = event('spec.orderPlaced', unchecked<{ orderId: string }>());
const CookingStarted = event('spec.cookingStarted', unchecked<{ orderId: string }>());
const KitchenLate = event('spec.kitchenLate', unchecked<{ orderId: string }>());
const Untagged = event('spec.untagged', unchecked<{ id: string }>());
const RaiseAlert = command('spec.raiseAlert', unchecked<{ orderId: string }>()).returns<void>();
const Other = command('spec.other', unchecked<{ orderId: string }>()).returns<void>();

const kitchenWatch = processManager('kitchen-watch', {
  state: unchecked<{ alerted: boolean }>(),
  correlation: 'orderId',
  sends: [RaiseAlert],
})
  .startedBy(OrderPlaced, (e, step) => {
    step.schedule(new KitchenLate({ orderId: e.orderId }), { after: 10 * minute }, 'late');
    return { alerted: false };
  })
  .on(CookingStarted, (state, _e, step) => {
    step.complete();
    return state;
  })
  .on(KitchenLate, (_state, e, step) => {
    step.send(new RaiseAlert({ orderId: e.orderId }));
    return { alerted: true };
  });

describe('given/when/then for process managers', () => {
  it('schedules a timeout when started, and sends the alert when it fires', async () => {
    (await givenProcess(kitchenWatch).when(new OrderPlaced({ orderId: 'o1' })))
      .thenScheduled({ key: 'late', after: 10 * minute, message: new KitchenLate({ orderId: 'o1' }) })
      .thenSent()
      .thenState({ alerted: false });
    const before = await givenProcess(kitchenWatch, new OrderPlaced({ orderId: 'o1' })).whenTimePasses(
      10 * minute - 1,
    );
    before.thenSent().thenState({ alerted: false });
    (await givenProcess(kitchenWatch, new OrderPlaced({ orderId: 'o1' })).whenTimePasses(10 * minute))
      .thenSent(new RaiseAlert({ orderId: 'o1' }))
      .thenState({ alerted: true })
      .thenStatus('running');
  });

  it('completes and cancels the timeout when cooking starts', async () => {
    const outcome = await givenProcess(kitchenWatch, new OrderPlaced({ orderId: 'o2' })).when(
      new CookingStarted({ orderId: 'o2' }),
    );
    outcome.thenStatus('completed').thenSent();
    expect(outcome.cancelled).toEqual(['late']);
    expect(outcome.pending).toEqual([]);
  });

  it('says what differs when an expectation fails', async () => {
    const outcome = await givenProcess(kitchenWatch).when(new OrderPlaced({ orderId: 'o3' }));
    expect(() => outcome.thenSent(new RaiseAlert({ orderId: 'o3' }))).toThrow(/the commands sent: expected/);
  });

  it('refuses, at run time too, a command it does not declare, and an event without the correlation', async () => {
    const loose = processManager('loose', { state: unchecked<object>(), correlation: 'orderId', sends: [] });
    loose.startedBy(OrderPlaced, (e, step) => {
      // @ts-expect-error Other is not among the commands it sends
      step.send(new Other({ orderId: e.orderId }));
      return {};
    });
    await expect(givenProcess(loose).when(new OrderPlaced({ orderId: 'o4' }))).rejects.toThrow(
      "sends spec.other, which it does not declare in 'sends'",
    );
    const strict = processManager('strict', { state: unchecked<object>(), correlation: 'orderId' });
    // @ts-expect-error Untagged carries no orderId to correlate
    strict.on(Untagged, () => ({}));
    await expect(givenProcess(strict).when(new Untagged({ id: 'u1' }))).resolves.toMatchObject({
      state: undefined,
    });
  });

  it('fails the build when a command it sends has no handler', async () => {
    await expect(
      createApplication().include(inMemoryPersistence(), kitchenWatch.module).build(),
    ).rejects.toThrow("command 'spec.raiseAlert' has no handler");
  });
});
