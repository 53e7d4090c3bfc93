import { describe, expect, it } from 'vitest';
import { type Application, createApplication } from '../application/application.ts';
import { eventHandler, handler } from '../mediation/handler.ts';
import { command, unchecked } from '../messages/message.ts';
import { EventStore } from '../persistence/eventStore.ts';
import { IdempotencyStore } from '../persistence/idempotencyStore.ts';
import { localMasterKey, type MasterKey, newMasterKey } from '../personalData/masterKey.ts';
import { erased } from '../personalData/personalData.ts';
import { ok } from '../results/operationResult.ts';
import { TestClock } from '../scheduling/clock.ts';
import { Schedule } from '../scheduling/schedule.ts';
import { newEvent } from '../testing/events.ts';
import { expectSuccess } from '../testing/handlerSpec.ts';
import {
  type PersonalDataUnderTest,
  personalDataContract,
  personalDataWorld,
} from '../testing/personalDataContract.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryEventStore } from './inMemoryEventStore.ts';
import { InMemoryMessageScheduler } from './inMemoryMessageScheduler.ts';
import { inMemoryPersistence } from './inMemoryPersistence.ts';
import { InMemoryProjectionDaemon } from './inMemoryProjectionDaemon.ts';
import { inMemoryProjections } from './inMemoryProjections.ts';
import { inMemoryEventSourcedRepository } from './inMemoryRepositories.ts';

/** Personal data on one in-memory database: with a master key, or (without) the database's own random one. */
function onDatabase(database: InMemoryDatabase, masterKey?: MasterKey): PersonalDataUnderTest {
  const runners = new Map<Application, InMemoryProjectionDaemon>();
  return {
    persistence: inMemoryPersistence(
      database,
      masterKey === undefined ? {} : { personalData: { masterKey } },
    ),
    eventSourced: (repository, type, options) => inMemoryEventSourcedRepository(repository, type, options),
    projections: (projections, options) => inMemoryProjections(projections, options),
    runner(app) {
      const runner = new InMemoryProjectionDaemon(app);
      runners.set(app, runner);
      return runner;
    },
    async caughtUp(app) {
      const runner = runners.get(app);
      if (runner === undefined) throw new Error('caughtUp waits for a runner, and this application has none');
      await runner.caughtUp();
    },
    storedData: async (streamId) => (database.stream(streamId) ?? []).map((stored) => stored.data),
  };
}

describe('personal data in memory', () => {
  const subject = onDatabase(new InMemoryDatabase(), localMasterKey(newMasterKey()));
  for (const contract of personalDataContract()) it(contract.name, () => contract.run(subject));
});

describe('personal data in memory, with no configuration: the database’s random master key, shared', () => {
  const subject = onDatabase(new InMemoryDatabase());
  for (const contract of personalDataContract()) it(contract.name, () => contract.run(subject));
});

describe('personal data in memory, as the database records it', () => {
  it('records each erasure: who asked and why, the keys deleted, the read models reached, the answers dropped', async () => {
    const database = new InMemoryDatabase();
    const w = personalDataWorld(onDatabase(database, localMasterKey(newMasterKey())));
    const [peach, lily, violet] = [w.person('Peach'), w.person('Lily'), w.person('Violet')];
    await using app = await w.build();
    await w.running([app], async () => {
      await w.register(app, peach);
      expectSuccess(await w.forget(app, peach.id));
    });
    expect(database.erasures).toEqual([
      {
        id: expect.any(String),
        subject: peach.id,
        requestedBy: 'dpo',
        reason: 'ticket 17',
        at: expect.any(Date),
        keys: 1,
        readModels: [`${w.models.inline} v1`, `${w.models.async} v1`],
        responses: 0,
      },
    ]);

    // A command that fails after forgetting records nothing.
    await w.register(app, lily);
    expect((await w.forget(app, lily.id, { refuse: true })).ok).toBe(false);
    expect(database.erasures).toHaveLength(1);

    // A subject who wrote nothing personal, with answers kept for two of their idempotent requests.
    const idempotency = app.container.root.resolve(IdempotencyStore);
    for (const scope of [
      'user:violet POST /patients',
      'user:violet PUT /patients/v-1',
      'user:violetta POST /x',
    ]) {
      await idempotency.claim(scope, 'k-1', 'f', new Date(Date.now() + 60_000));
      await idempotency.complete(scope, 'k-1', { status: 201, headers: {}, body: { name: violet.name } });
    }
    expectSuccess(await w.forget(app, violet.id, { principal: 'violet' }));
    expect(database.erasures.at(-1)).toMatchObject({ subject: violet.id, keys: 0, responses: 2 });

    // An answer naming a subject, claimed before their erasure and completed after it: dropped, and counted.
    const rosa = w.person('Rosa');
    await w.register(app, rosa);
    await idempotency.claim('guest', 'k-2', 'f', new Date(Date.now() + 60_000));
    expectSuccess(await w.forget(app, rosa.id));
    expect(database.erasures.at(-1)).toMatchObject({ subject: rosa.id, responses: 0 });
    const late = { status: 201, headers: {}, body: { name: rosa.name } };
    await idempotency.complete('guest', 'k-2', late, [rosa.id]);
    expect(await idempotency.claim('guest', 'k-2', 'f', new Date(Date.now() + 60_000))).toEqual({
      state: 'claimed',
    });
    expect(database.erasures.at(-1)).toMatchObject({ subject: rosa.id, responses: 1 });
    expect(database.erasures.at(-2)).toMatchObject({ subject: violet.id, responses: 2 });
  });

  it('gives in-process handlers the aggregate’s events in clear, and placeholders when their command forgot', async () => {
    const w = personalDataWorld(onDatabase(new InMemoryDatabase(), localMasterKey(newMasterKey())));
    const seen: { name: string; phone: string }[] = [];
    const welcome = eventHandler(`${w.tag}.welcome`, w.Registered, (e) => {
      seen.push({ name: e.name, phone: e.phone });
    });
    await using app = await w.build([(builder) => builder.handle(welcome)]);
    const [peach, iris] = [w.person('Peach'), w.person('Iris')];
    await w.register(app, peach);
    await w.register(app, iris, 'G', true);
    expect(seen).toEqual([
      { name: peach.name, phone: peach.phone },
      { name: erased, phone: erased },
    ]);
  });
});

describe('personal data in memory, with no configuration', () => {
  it('is read by a lone event store on the database, and forgotten by any of its applications', async () => {
    const database = new InMemoryDatabase();
    const w = personalDataWorld(onDatabase(database));
    const tom = w.person('Tom');
    await using app = await w.build();
    await using other = await w.build();
    await w.register(app, tom, 'H');
    expect(await w.read(other, tom.id)).toMatchObject([{ name: tom.name }]);
    expect(await new InMemoryEventStore(database).readAll()).toMatchObject([{ data: { name: tom.name } }]);
    expectSuccess(await w.forget(other, tom.id));
    expect(await w.move(app, tom.id, 'I')).toEqual({ name: erased, phone: erased, ward: 'I' });
    expect(database.erasures).toMatchObject([{ subject: tom.id, keys: 1 }]);
  });

  it('seals the events its scheduler writes when they come due', async () => {
    const database = new InMemoryDatabase();
    const w = personalDataWorld(onDatabase(database));
    const clock = new TestClock();
    const Later = command(`${w.tag}.later`, unchecked<{ id: string; name: string }>()).returns<void>();
    await using app = await createApplication()
      .include(inMemoryPersistence(database, { clock }))
      .handle(
        handler(Later, { schedule: Schedule }, async (c, { schedule }) => {
          const registered = new w.Registered({ patientId: c.id, name: c.name, phone: '1', ward: 'A' });
          schedule.send(registered, { after: 60_000 }, { streamId: w.stream(c.id) });
          return ok(undefined);
        }),
      )
      .build();
    await using _scheduler = new InMemoryMessageScheduler(app).start();
    expectSuccess(await app.mediator.execute(new Later({ id: 'w-1', name: 'Wendy Later' })));
    await clock.advance(60_000);
    expect(database.log).toHaveLength(1);
    expect(JSON.stringify(database.log)).not.toContain('Wendy Later');
    const [read] = await app.container.root.resolve(EventStore).readStream(w.stream('w-1'));
    expect(read?.data).toMatchObject({ name: 'Wendy Later' });
  });

  it('seals what a lone event store appends', async () => {
    const store = new InMemoryEventStore();
    const w = personalDataWorld(onDatabase(store.database));
    await store.append(w.stream('x'), [
      newEvent(w.Registered.type, { patientId: 'x', name: 'Xavier', phone: '1', ward: 'A' }),
    ]);
    expect(JSON.stringify(store.database.log)).not.toContain('Xavier');
    expect(await store.readStream(w.stream('x'))).toMatchObject([{ data: { name: 'Xavier' } }]);
  });
});

describe('rotating the master key in memory', () => {
  it('reads with the old key as a previous one, rewraps every data key under the new one, and then needs only it', async () => {
    const database = new InMemoryDatabase();
    const [k1, k2] = [localMasterKey(newMasterKey(), 'k1'), localMasterKey(newMasterKey(), 'k2')];
    const w = personalDataWorld(onDatabase(database, k1));
    const [peach, daisy, gone] = [w.person('Peach'), w.person('Daisy'), w.person('Gone')];
    await using app = await w.build();
    for (const person of [peach, daisy, gone]) await w.register(app, person);
    expectSuccess(await w.forget(app, gone.id));
    const log = structuredClone(database.log);
    const readWith = async (personalData: { masterKey: MasterKey; previousMasterKeys?: MasterKey[] }) =>
      (await new InMemoryEventStore(database, { personalData }).readAll()).map(
        (e) => (e.data as { name: string }).name,
      );
    const names = [peach.name, daisy.name, erased];

    expect(await readWith({ masterKey: k2, previousMasterKeys: [k1] })).toEqual(names);
    expect(await database.dataKeys.rewrap({ masterKey: k2, previousMasterKeys: [k1] })).toEqual({
      rewrapped: 2,
      left: 0,
      unknown: 0,
      unknownMasterKeys: [],
    });
    expect(await readWith({ masterKey: k2 })).toEqual(names);
    await expect(readWith({ masterKey: k1 })).rejects.toThrow(/wrapped by master key 'k2'/);
    expect(database.log).toEqual(log); // the sealed events are as they were
    expect(await database.dataKeys.rewrap({ masterKey: k2, previousMasterKeys: [k1] })).toMatchObject({
      rewrapped: 0,
    });
    // Keys under a master key not given are left as they are, and named.
    expect(await database.dataKeys.rewrap({ masterKey: k1 })).toEqual({
      rewrapped: 0,
      left: 0,
      unknown: 2,
      unknownMasterKeys: ['k2'],
    });
  });

  it('leaves forgotten a subject forgotten while their key was being rewrapped', async () => {
    const database = new InMemoryDatabase();
    const [k1, k2] = [localMasterKey(newMasterKey(), 'k1'), localMasterKey(newMasterKey(), 'k2')];
    const w = personalDataWorld(onDatabase(database, k1));
    const [peach, daisy] = [w.person('Peach'), w.person('Daisy')];
    await using app = await w.build();
    for (const person of [peach, daisy]) await w.register(app, person);
    // The old master key answers its first unwrap (Peach's key) only once told to.
    const unwrapping = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const held: MasterKey = {
      ...k1,
      async unwrap(wrapped) {
        unwrapping.resolve();
        await release.promise;
        return k1.unwrap(wrapped);
      },
    };
    const rewrap = database.dataKeys.rewrap({ masterKey: k2, previousMasterKeys: [held] });
    await unwrapping.promise;
    expectSuccess(await w.forget(app, peach.id));
    release.resolve();
    expect(await rewrap).toMatchObject({ rewrapped: 1, left: 0 });
    const store = new InMemoryEventStore(database, { personalData: { masterKey: k2 } });
    expect((await store.readAll()).map((e) => (e.data as { name: string }).name)).toEqual([
      erased,
      daisy.name,
    ]);
  });
});
