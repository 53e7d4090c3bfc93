import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Application, createApplication } from '../application/application.ts';
import { token } from '../dependencyInjection/token.ts';
import { AggregateRoot } from '../domain/aggregateRoot.ts';
import { eventHandler, handler } from '../mediation/handler.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import { EventStore, type StoredEvent } from '../persistence/eventStore.ts';
import { IdempotencyStore } from '../persistence/idempotencyStore.ts';
import type { Repository } from '../persistence/repository.ts';
import { localMasterKey, newMasterKey } from '../personalData/masterKey.ts';
import { erased, PersonalData, PersonalDataReader } from '../personalData/personalData.ts';
import { projection } from '../projections/projection.ts';
import { type DocumentReader, documents } from '../projections/readModel.ts';
import { badRequest, notFound, ok } from '../results/operationResult.ts';
import { TestClock } from '../scheduling/clock.ts';
import { Schedule } from '../scheduling/schedule.ts';
import { newEvent } from '../testing/events.ts';
import { expectSuccess } from '../testing/handlerSpec.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryEventStore } from './inMemoryEventStore.ts';
import { InMemoryMessageScheduler } from './inMemoryMessageScheduler.ts';
import { inMemoryPersistence } from './inMemoryPersistence.ts';
import { InMemoryProjectionDaemon } from './inMemoryProjectionDaemon.ts';
import { inMemoryProjections } from './inMemoryProjections.ts';
import { inMemoryEventSourcedRepository } from './inMemoryRepositories.ts';

// A clinic's patients: their name and phone are personal, their ward is not.
const Registered = event(
  'memory.patient.registered.v1',
  unchecked<{ patientId: string; name: string; phone: string; ward: string; note?: string }>(),
  { personal: { subject: 'patientId', fields: ['name', 'phone', 'note'] } },
);
const Moved = event('memory.patient.moved.v1', unchecked<{ patientId: string; ward: string }>());
type PatientEvent = InstanceType<typeof Registered> | InstanceType<typeof Moved>;
type PatientState = { name: string; phone: string; ward: string };

class Patient extends AggregateRoot<PatientState, PatientEvent> {
  constructor(id: string) {
    super(id, { name: '', phone: '', ward: '' });
  }
  register(name: string, phone: string, ward: string): void {
    this.raise(new Registered({ patientId: this.id, name, phone, ward }));
  }
  move(ward: string): void {
    this.raise(new Moved({ patientId: this.id, ward }));
  }
  protected override apply(state: PatientState, e: PatientEvent): PatientState {
    return e instanceof Registered
      ? { name: e.name, phone: e.phone, ward: e.ward }
      : { ...state, ward: e.ward };
  }
}

const Patients = token<Repository<Patient>>('Patients');
const Register = command(
  'memory.patient.register',
  unchecked<{ id: string; name: string; phone: string; ward: string; forget?: boolean }>(),
).returns<void>();
const Move = command(
  'memory.patient.move',
  unchecked<{ id: string; ward: string }>(),
).returns<PatientState>();
const Forget = command(
  'memory.patient.forget',
  unchecked<{ id: string; principal?: string; refuse?: boolean }>(),
).returns<void>();

type Card = { id: string; name: string; phone: string; ward: string };
const cardOf = (e: InstanceType<typeof Registered>): Card => ({
  id: e.patientId,
  name: e.name,
  phone: e.phone,
  ward: e.ward,
});

/** A read model of patients' cards, with the erasure hook that blanks what it holds of a forgotten one. */
function cards(name: string, mode: 'inline' | 'async', version = 1, withHook = true) {
  const model = documents<Card>(name);
  const declared = projection(model, { mode, version })
    .on(Registered, (e, docs) => docs.put(e.patientId, cardOf(e)))
    .on(Moved, async (e, docs) => {
      await docs.update(e.patientId, (card) => ({ ...card, ward: e.ward }));
    });
  return {
    model,
    projection: withHook
      ? declared.erase(async (patientId, docs) => {
          const found = await docs.find({ where: { id: patientId } });
          for (const card of found.items) await docs.put(card.id, { ...card, name: erased, phone: erased });
        })
      : declared,
  };
}

const inlineCards = cards('memory-patient-cards', 'inline');
const asyncCards = cards('memory-patient-cards-async', 'async');
const GetCard = query('memory.patient.card', unchecked<{ id: string; async?: boolean }>()).returns<Card>();
const AllCards = query('memory.patient.cards', unchecked<{ async?: boolean }>()).returns<readonly Card[]>();

/** What the in-process handlers were given, by event type. */
type Seen = { registered: InstanceType<typeof Registered>[] };

function build(
  database: InMemoryDatabase,
  options: { masterKey?: ReturnType<typeof localMasterKey>; seen?: Seen } = {},
): Promise<Application> {
  const readers = { inline: inlineCards.model, async: asyncCards.model };
  const readerOf = (q: { async?: boolean }, models: { inline: unknown; async: unknown }) =>
    (q.async === true ? models.async : models.inline) as DocumentReader<Card>;
  return createApplication()
    .include(
      inMemoryPersistence(
        database,
        options.masterKey === undefined ? {} : { personalData: { masterKey: options.masterKey } },
      ),
      inMemoryProjections([inlineCards.projection, asyncCards.projection]),
    )
    .register(inMemoryEventSourcedRepository(Patients, Patient, { events: [Registered, Moved] }))
    .cache(GetCard, { ttlMs: 60_000, invalidatedBy: [Registered, Moved] }) // not by an erasure: no event
    .handle(
      handler(Register, { patients: Patients, personal: PersonalData }, async (c, { patients, personal }) => {
        const patient = new Patient(c.id);
        patient.register(c.name, c.phone, c.ward);
        await patients.add(patient);
        if (c.forget === true) await personal.forget(c.id, { requestedBy: 'dpo' });
        return ok(undefined);
      }),
      handler(Move, { patients: Patients }, async (c, { patients }) => {
        const patient = await patients.get(c.id);
        if (patient === undefined) return notFound('Patient', c.id);
        patient.move(c.ward);
        await patients.update(patient);
        return ok(patient.state);
      }),
      handler(Forget, { personal: PersonalData }, async (c, { personal }) => {
        await personal.forget(c.id, {
          requestedBy: 'dpo',
          reason: 'ticket 17',
          ...(c.principal === undefined ? {} : { principal: c.principal }),
        });
        return c.refuse === true ? badRequest('refused after all') : ok(undefined);
      }),
      handler(GetCard, readers, async (q, models) => {
        const found = await readerOf(q, models).get(q.id);
        return found === undefined ? notFound('Card', q.id) : ok(found);
      }),
      handler(AllCards, readers, async (q, models) => ok((await readerOf(q, models).find({})).items)),
      eventHandler('memory.patient.welcome', Registered, (e) => {
        options.seen?.registered.push(e);
      }),
    )
    .build();
}

const cardIn = async (app: Application, id: string, async = false) => {
  const result = await app.mediator.execute(new GetCard({ id, async }));
  return result.ok ? result.data : undefined;
};

/** Everything the database holds of the log and the read models, as text, to search for a person's data. */
async function everything(database: InMemoryDatabase, app: Application): Promise<string> {
  const models = await Promise.all(
    [false, true].map(async (async) => expectSuccess(await app.mediator.execute(new AllCards({ async })))),
  );
  return JSON.stringify([database.log, models]);
}

describe('personal data in memory', () => {
  const database = new InMemoryDatabase();
  const masterKey = localMasterKey(newMasterKey());
  const seen: Seen = { registered: [] };
  let app: Application;
  let daemon: InMemoryProjectionDaemon;
  const peach = { id: 'p-1', name: 'Peach Toadstool', phone: '555-0101' };
  const daisy = { id: 'd-1', name: 'Daisy Sarasaland', phone: '555-0102' };

  beforeAll(async () => {
    app = await build(database, { masterKey, seen });
    daemon = new InMemoryProjectionDaemon(app).start();
    for (const p of [peach, daisy])
      expectSuccess(await app.mediator.execute(new Register({ ...p, ward: 'A' })));
    await daemon.caughtUp();
  });
  afterAll(async () => {
    await daemon?.stop();
    await app?.dispose();
  });

  it('writes nothing personal in clear to the log, and reads it back in clear while the key exists', async () => {
    const [stored] = database.stream(`Patient-${peach.id}`) ?? [];
    expect(stored?.data).toEqual({
      patientId: peach.id,
      ward: 'A',
      $personal: { key: expect.any(String), fields: ['name', 'phone'], sealed: expect.any(String) },
    });
    expect(JSON.stringify(database.log)).not.toContain(peach.name);
    expect(JSON.stringify(database.log)).not.toContain(peach.phone);

    const [read] = await app.container.root.resolve(EventStore).readStream(`Patient-${peach.id}`);
    expect(read?.data).toEqual({ patientId: peach.id, ward: 'A', name: peach.name, phone: peach.phone });
    const all = await app.container.root.resolve(EventStore).readAll();
    expect(all.map((e) => (e.data as { name?: string }).name)).toEqual([peach.name, daisy.name]);
    expect(await cardIn(app, peach.id)).toMatchObject({ name: peach.name });
    expect(await cardIn(app, peach.id, true)).toMatchObject({ phone: peach.phone });
    // The in-process handlers had the aggregate's events, in clear.
    expect(seen.registered.map((e) => e.name)).toEqual([peach.name, daisy.name]);
    // A bus consumer's events, sealed as the log holds them, open with the application's reader.
    const reader = app.container.root.resolve(PersonalDataReader);
    const [opened] = await reader.reveal(database.log.slice(0, 1));
    expect(opened?.data).toMatchObject({ name: peach.name });
  });

  it('forgets a subject everywhere: log, aggregates, read models, caches, and records the erasure', async () => {
    const sealed = database.log.slice(0, 1);
    expect(await cardIn(app, peach.id)).toMatchObject({ name: peach.name }); // cached now
    expectSuccess(await app.mediator.execute(new Forget({ id: peach.id })));
    await daemon.caughtUp();
    const text = await everything(database, app);
    expect(text).not.toContain(peach.name);
    expect(text).not.toContain(peach.phone);
    // Daisy is untouched.
    expect(text).toContain(daisy.name);
    expect(await cardIn(app, daisy.id)).toMatchObject({ name: daisy.name });

    const [stored] = await app.container.root.resolve(EventStore).readStream(`Patient-${peach.id}`);
    expect(stored?.data).toEqual({ patientId: peach.id, ward: 'A', name: erased, phone: erased });
    const [opened] = await app.container.root.resolve(PersonalDataReader).reveal(sealed);
    expect(opened?.data).toMatchObject({ name: erased, phone: erased });
    // The cached card went with the erasure.
    expect(await cardIn(app, peach.id)).toMatchObject({ name: erased, phone: erased });

    // The aggregate loads, with placeholders, and takes new commands; its new events reach the read models.
    const moved = await app.mediator.execute(new Move({ id: peach.id, ward: 'B' }));
    expect(moved).toMatchObject({ ok: true, data: { name: erased, phone: erased, ward: 'B' } });
    expect(await cardIn(app, peach.id)).toEqual({ id: peach.id, name: erased, phone: erased, ward: 'B' });
    await daemon.caughtUp();
    expect(await cardIn(app, peach.id, true)).toEqual({
      id: peach.id,
      name: erased,
      phone: erased,
      ward: 'B',
    });

    expect(database.erasures).toEqual([
      {
        id: expect.any(String),
        subject: peach.id,
        requestedBy: 'dpo',
        reason: 'ticket 17',
        at: expect.any(Date),
        keys: 1,
        readModels: ['memory-patient-cards v1', 'memory-patient-cards-async v1'],
        responses: 0,
      },
    ]);
  });

  it('rebuilds a read model after an erasure to what the erasure left', async () => {
    const before = expectSuccess(await app.mediator.execute(new AllCards({ async: true })));
    const rebuilt = cards('memory-patient-cards-async', 'async', 2, false);
    const Read = query('memory.patient.rebuilt', unchecked<object>()).returns<readonly Card[]>();
    await using next = await createApplication()
      .include(
        inMemoryPersistence(database, { personalData: { masterKey } }),
        inMemoryProjections([rebuilt.projection]),
      )
      .handle(
        handler(Read, { cards: rebuilt.model }, async (_q, { cards }) => ok((await cards.find({})).items)),
      )
      .build();
    await using rebuilding = new InMemoryProjectionDaemon(next).start();
    await rebuilding.caughtUp();
    // Version 2 serves now (version 1 was dropped when it took over): it holds what version 1 held after the
    // erasure, though no hook ran on it.
    const after = expectSuccess(await next.mediator.execute(new Read({})));
    expect(after).toEqual(before);
    expect(after).toEqual([
      { id: daisy.id, name: daisy.name, phone: daisy.phone, ward: 'A' },
      { id: peach.id, name: erased, phone: erased, ward: 'B' },
    ]);
  });

  it('seals a returning subject with a new key, though another application cached the forgotten one', async () => {
    await using other = await build(database, { masterKey });
    const rose = { id: 'r-1', name: 'Rose Bud', phone: '555-0103', ward: 'C' };
    // The other application seals Rose's first events, caching her key; this one forgets her.
    expectSuccess(await other.mediator.execute(new Register(rose)));
    expectSuccess(await app.mediator.execute(new Forget({ id: rose.id })));
    // Back under the same id: the other application's cached key is gone, its append seals with a new one.
    const store = other.container.root.resolve(EventStore);
    await new InMemoryEventStore(database, { personalData: { masterKey } }).append(`Patient-${rose.id}`, [
      newEvent(Registered.type, { patientId: rose.id, name: 'Rose again', phone: '558', ward: 'D' }),
    ]);
    await store.append(`Patient-${rose.id}`, [
      newEvent(Registered.type, { patientId: rose.id, name: 'Rose, third time', phone: '559', ward: 'E' }),
    ]);
    const events = await store.readStream(`Patient-${rose.id}`);
    expect(events.map((e) => (e.data as { name: string }).name)).toEqual([
      erased,
      'Rose again',
      'Rose, third time',
    ]);
    // Sealed with two keys: the forgotten one, and the new one both applications sealed with since.
    const keys = new Set(database.stream(`Patient-${rose.id}`)?.map((e) => (e.data as Sealed).$personal.key));
    expect(keys.size).toBe(2);
  });

  it('forgets with the command, or not at all: a command that fails forgets nothing', async () => {
    const lily = { id: 'l-1', name: 'Lily Pad', phone: '555-0104', ward: 'F' };
    expectSuccess(await app.mediator.execute(new Register(lily)));
    const erasures = database.erasures.length;
    expect((await app.mediator.execute(new Forget({ id: lily.id, refuse: true }))).ok).toBe(false);
    expect(database.erasures).toHaveLength(erasures);
    const [stored] = await app.container.root.resolve(EventStore).readStream(`Patient-${lily.id}`);
    expect(stored?.data).toMatchObject({ name: lily.name });
    expect(await cardIn(app, lily.id)).toMatchObject({ name: lily.name });
  });

  it('gives the handlers placeholders for the events of a subject their own command forgot', async () => {
    const iris = { id: 'i-1', name: 'Iris Bloom', phone: '555-0105', ward: 'G' };
    seen.registered.length = 0;
    expectSuccess(await app.mediator.execute(new Register({ ...iris, forget: true })));
    expect(seen.registered.map((e) => ({ name: e.name, phone: e.phone }))).toEqual([
      { name: erased, phone: erased },
    ]);
    // The inline read model took the event in clear, then the erasure in the same commit blanked it.
    expect(await cardIn(app, iris.id)).toMatchObject({ name: erased, phone: erased });
    expect(JSON.stringify(database.log)).not.toContain(iris.name);
  });

  it("deletes the kept answers to the subject's idempotent requests, and only theirs", async () => {
    const idempotency = app.container.root.resolve(IdempotencyStore);
    const later = new Date(Date.now() + 60_000);
    const response = { status: 201, headers: {}, body: { name: 'Violet Field' } };
    for (const scope of [
      'user:violet POST /patients',
      'user:violet PUT /patients/v-1',
      'user:violetta POST /x',
    ]) {
      expect(await idempotency.claim(scope, 'k-1', 'f', later)).toEqual({ state: 'claimed' });
      await idempotency.complete(scope, 'k-1', response as never);
    }
    expectSuccess(await app.mediator.execute(new Forget({ id: 'v-1', principal: 'violet' })));
    expect(database.erasures.at(-1)).toMatchObject({ subject: 'v-1', keys: 0, responses: 2 });
    expect(await idempotency.claim('user:violet POST /patients', 'k-1', 'f', later)).toEqual({
      state: 'claimed',
    });
    expect(await idempotency.claim('user:violetta POST /x', 'k-1', 'f', later)).toMatchObject({
      state: 'done',
    });
  });

  it('fails loudly on sealed data that was altered, rather than reading it as erased', async () => {
    const [stored] = database.stream(`Patient-${daisy.id}`) ?? [];
    const altered = structuredClone(stored) as StoredEvent & { data: Sealed };
    altered.data.$personal.fields = ['phone', 'name'];
    await expect(app.container.root.resolve(PersonalDataReader).reveal([altered])).rejects.toThrow(
      /does not open with its key: it was altered/,
    );
  });
});

type Sealed = { $personal: { key: string; fields: string[]; sealed: string } };

describe('personal data in memory, with no configuration', () => {
  it('is protected with the database’s random master key, which its applications share', async () => {
    const database = new InMemoryDatabase();
    await using app = await build(database);
    await using other = await build(database);
    const tom = { id: 't-1', name: 'Tom Thumb', phone: '555-0106', ward: 'H' };
    expectSuccess(await app.mediator.execute(new Register(tom)));
    expect(JSON.stringify(database.log)).not.toContain(tom.name);
    const [read] = await other.container.root.resolve(EventStore).readStream(`Patient-${tom.id}`);
    expect(read?.data).toMatchObject({ name: tom.name });
    expect(await new InMemoryEventStore(database).readAll()).toMatchObject([{ data: { name: tom.name } }]);

    expectSuccess(await other.mediator.execute(new Forget({ id: tom.id })));
    const moved = await app.mediator.execute(new Move({ id: tom.id, ward: 'I' }));
    expect(moved).toMatchObject({ ok: true, data: { name: erased, phone: erased, ward: 'I' } });
    expect(database.erasures).toMatchObject([{ subject: tom.id, keys: 1 }]);
  });

  it('seals the events its scheduler writes when they come due', async () => {
    const database = new InMemoryDatabase();
    const clock = new TestClock();
    const Later = command('memory.patient.later', unchecked<{ id: string; name: string }>()).returns<void>();
    await using app = await createApplication()
      .include(inMemoryPersistence(database, { clock }))
      .handle(
        handler(Later, { schedule: Schedule }, async (c, { schedule }) => {
          const registered = new Registered({ patientId: c.id, name: c.name, phone: '1', ward: 'A' });
          schedule.send(registered, { after: 60_000 }, { streamId: `Patient-${c.id}` });
          return ok(undefined);
        }),
      )
      .build();
    await using _scheduler = new InMemoryMessageScheduler(app).start();
    expectSuccess(await app.mediator.execute(new Later({ id: 'w-1', name: 'Wendy Later' })));
    await clock.advance(60_000);
    expect(database.log).toHaveLength(1);
    expect(JSON.stringify(database.log)).not.toContain('Wendy Later');
    const [read] = await app.container.root.resolve(EventStore).readStream('Patient-w-1');
    expect(read?.data).toMatchObject({ name: 'Wendy Later' });
  });

  it('seals what a lone event store appends', async () => {
    const store = new InMemoryEventStore();
    await store.append('Patient-x', [
      newEvent(Registered.type, { patientId: 'x', name: 'Xavier', phone: '1', ward: 'A' }),
    ]);
    expect(JSON.stringify(store.database.log)).not.toContain('Xavier');
    expect(await store.readStream('Patient-x')).toMatchObject([{ data: { name: 'Xavier' } }]);
  });
});
