import {
  AggregateRoot,
  type Application,
  command,
  createApplication,
  documents,
  EventStore,
  erased,
  event,
  handler,
  type Logger,
  localMasterKey,
  logging,
  type MasterKey,
  newMasterKey,
  notFound,
  ok,
  PersonalData,
  projection,
  query,
  type Repository,
  token,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { PostgresIdempotencyStore } from '../idempotency/postgresIdempotencyStore.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresProjections } from '../projections/postgresProjections.ts';
import { ProjectionDaemon } from '../projections/projectionDaemon.ts';
import { documentReader } from '../projections/readModels.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { rowsContaining } from '../testing/searchEverything.ts';

// A clinic's patients: their name and phone are personal, their ward is not.
const Registered = event(
  'patient.registered.v1',
  unchecked<{ patientId: string; name: string; phone: string; ward: string; note?: string }>(),
  { personal: { subject: 'patientId', fields: ['name', 'phone', 'note'] } },
);
const Moved = event('patient.moved.v1', unchecked<{ patientId: string; ward: string }>());
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
  'patient.register',
  unchecked<{ id: string; name: string; phone: string; ward: string }>(),
).returns<void>();
const Move = command('patient.move', unchecked<{ id: string; ward: string }>()).returns<PatientState>();
const Forget = command('patient.forget', unchecked<{ id: string; principal?: string }>()).returns<void>();

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

const inlineCards = cards('patient-cards', 'inline');
const asyncCards = cards('patient-cards-async', 'async');

const GetCard = query('patient.card', unchecked<{ id: string }>()).returns<Card>();

/** Every line the application logged, as JSON. */
const logged: string[] = [];
const logger = Object.fromEntries(
  ['debug', 'info', 'warn', 'error'].map((level) => [
    level,
    (fields: object, message?: string) => logged.push(JSON.stringify({ ...fields, message })),
  ]),
) as unknown as Logger;

function build(database: Database, masterKey: MasterKey | undefined): Promise<Application> {
  return createApplication()
    .use(...logging(logger))
    .cache(GetCard, { ttlMs: 600_000 })
    .include(
      postgresPersistence(database, masterKey === undefined ? {} : { personalData: { masterKey } }),
      postgresProjections([inlineCards.projection, asyncCards.projection]),
    )
    .register(postgresEventSourcedRepository(Patients, Patient, { events: [Registered, Moved] }))
    .handle(
      handler(Register, { patients: Patients }, async (c, { patients }) => {
        const patient = new Patient(c.id);
        patient.register(c.name, c.phone, c.ward);
        await patients.add(patient);
        return ok(undefined);
      }),
      handler(Move, { patients: Patients }, async (c, { patients }) => {
        const patient = await patients.get(c.id);
        if (patient === undefined) return notFound('Patient', c.id);
        patient.move(c.ward);
        await patients.update(patient);
        return ok(patient.state);
      }),
      handler(GetCard, { cards: inlineCards.model }, async (q, { cards }) => {
        const found = await cards.get(q.id);
        return found === undefined ? notFound('Card', q.id) : ok(found);
      }),
      handler(Forget, { personal: PersonalData }, async (c, { personal }) => {
        await personal.forget(c.id, {
          requestedBy: 'dpo',
          reason: 'ticket 17',
          ...(c.principal === undefined ? {} : { principal: c.principal }),
        });
        return ok(undefined);
      }),
    )
    .build();
}

const card = (database: Database, name: string, id: string) =>
  documentReader<Card>(database, database.schema, name, async () => {}).get(id);

const fast = { pollMs: 200, leaseRetryMs: 100, onError: () => {} };

describe.each(engines)('personal data on $name', (engine) => {
  let test: TestDatabase;
  let app: Application;
  let daemon: ProjectionDaemon;
  const masterKey = localMasterKey(newMasterKey());
  const unique = crypto.randomUUID().slice(0, 8);
  const peach = { id: `p-${unique}`, name: `Peach ${unique}`, phone: `555-${unique}` };
  const daisy = { id: `d-${unique}`, name: `Daisy ${unique}`, phone: `556-${unique}` };

  beforeAll(async () => {
    test = await engine.open();
    app = await build(test.database, masterKey);
    daemon = new ProjectionDaemon(app, test.database, fast).start();
    for (const p of [peach, daisy]) {
      expect((await app.mediator.execute(new Register({ ...p, ward: 'A' }))).ok).toBe(true);
    }
    await eventually(
      async () => (await card(test.database, 'patient-cards-async', daisy.id)) !== undefined,
      'the async cards caught up',
    );
  });
  afterAll(async () => {
    await daemon?.stop();
    await app?.dispose();
    await test?.drop();
  });

  it('writes nothing personal in clear to the log, and reads it back in clear while the key exists', async () => {
    const { rows } = await test.database.query<{ data: Record<string, unknown> }>(
      `SELECT data FROM ${test.database.schema}.events WHERE stream_id = $1`,
      [`Patient-${peach.id}`],
    );
    expect(rows[0]?.data).toEqual({
      patientId: peach.id,
      ward: 'A',
      $personal: { key: expect.any(String), fields: ['name', 'phone'], sealed: expect.any(String) },
    });
    // Outside the read models (which hold it in clear until an erasure reaches them), no table has it.
    const hits = await rowsContaining(test.database, peach.name);
    expect(hits.map((hit) => hit.table).sort()).toEqual(['read_documents']);
    const [stored] = await app.container.root.resolve(EventStore).readStream(`Patient-${peach.id}`);
    expect(stored?.data).toEqual({ patientId: peach.id, ward: 'A', name: peach.name, phone: peach.phone });
    expect(await card(test.database, 'patient-cards', peach.id)).toMatchObject({ name: peach.name });
    expect(await card(test.database, 'patient-cards-async', peach.id)).toMatchObject({ phone: peach.phone });
  });

  it('forgets a subject everywhere: log, aggregates, read models, and records the erasure', async () => {
    // A cached answer holding Peach's data, before she is forgotten.
    expect(await app.mediator.execute(new GetCard({ id: peach.id }))).toMatchObject({
      data: { name: peach.name },
    });
    expect((await app.mediator.execute(new Forget({ id: peach.id }))).ok).toBe(true);
    expect(await app.mediator.execute(new GetCard({ id: peach.id }))).toMatchObject({
      data: { name: erased },
    });
    expect(await rowsContaining(test.database, peach.name)).toEqual([]);
    expect(await rowsContaining(test.database, peach.phone)).toEqual([]);
    // Daisy is untouched.
    expect(await card(test.database, 'patient-cards', daisy.id)).toMatchObject({ name: daisy.name });

    const [stored] = await app.container.root.resolve(EventStore).readStream(`Patient-${peach.id}`);
    expect(stored?.data).toEqual({ patientId: peach.id, ward: 'A', name: erased, phone: erased });
    // The aggregate loads, with placeholders, and takes new commands; its new events reach the read models.
    const moved = await app.mediator.execute(new Move({ id: peach.id, ward: 'B' }));
    expect(moved).toMatchObject({ ok: true, data: { name: erased, phone: erased, ward: 'B' } });
    expect(await card(test.database, 'patient-cards', peach.id)).toEqual({
      id: peach.id,
      name: erased,
      phone: erased,
      ward: 'B',
    });
    await eventually(
      async () => (await card(test.database, 'patient-cards-async', peach.id))?.ward === 'B',
      'the async cards took the move',
    );
    expect(await card(test.database, 'patient-cards-async', peach.id)).toMatchObject({ name: erased });

    // What was logged along the way names no one's data.
    expect(logged.length).toBeGreaterThan(5);
    for (const needle of [peach.name, peach.phone, daisy.name, daisy.phone]) {
      expect(logged.filter((line) => line.includes(needle))).toEqual([]);
    }
    const { rows } = await test.database.query(
      `SELECT subject, requested_by, reason, keys, read_models FROM ${test.database.schema}.erasures`,
    );
    expect(rows).toEqual([
      {
        subject: peach.id,
        requested_by: 'dpo',
        reason: 'ticket 17',
        keys: 1,
        read_models: ['patient-cards v1', 'patient-cards-async v1'],
      },
    ]);
  });

  it('rebuilds a read model after an erasure to what the erasure left', async () => {
    const rebuilt = cards('patient-cards-async', 'async', 2, false);
    const next = await createApplication()
      .include(
        postgresPersistence(test.database, { personalData: { masterKey }, migrate: false }),
        postgresProjections([rebuilt.projection]),
      )
      .register(postgresEventSourcedRepository(Patients, Patient, { events: [Registered, Moved] }))
      .build();
    const rebuilding = new ProjectionDaemon(next, test.database, fast).start();
    try {
      const version = async () =>
        (
          await test.database.query<{ version: number }>(
            `SELECT version FROM ${test.database.schema}.projections WHERE name = $1 AND status = 'active'`,
            ['patient-cards-async'],
          )
        ).rows[0]?.version;
      await eventually(async () => (await version()) === 2, 'version 2 serves');
      const { rows } = await test.database.query<{ version: string; id: string; doc: Card }>(
        `SELECT split_part(model, '@', 2) AS version, id, doc FROM ${test.database.schema}.read_documents
         WHERE model LIKE 'patient-cards-async@%' ORDER BY id`,
      );
      // Version 1 was dropped when 2 took over: compare 2 with what version 1 held after the erasure.
      expect(rows.map(({ id, doc }) => ({ id, doc }))).toEqual([
        { id: daisy.id, doc: { id: daisy.id, name: daisy.name, phone: daisy.phone, ward: 'A' } },
        { id: peach.id, doc: { id: peach.id, name: erased, phone: erased, ward: 'B' } },
      ]);
    } finally {
      await rebuilding.stop();
      await next.dispose();
    }
  });

  it('seals a returning subject with a new key, though another process cached the forgotten one', async () => {
    const other = await build(test.database, masterKey);
    try {
      const rose = { id: `r-${unique}`, name: `Rose ${unique}`, phone: `557-${unique}`, ward: 'C' };
      // The other process seals Rose's first events, caching her key; this one forgets her.
      expect((await other.mediator.execute(new Register(rose))).ok).toBe(true);
      expect((await app.mediator.execute(new Forget({ id: rose.id }))).ok).toBe(true);
      // Back as a new patient under the same id: the other process's cached key is gone, its append retries.
      const store = other.container.root.resolve(EventStore);
      const again = new PostgresEventStore(test.database, { personalData: { masterKey } });
      await again.append(`Patient-${rose.id}`, [
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
    } finally {
      await other.dispose();
    }
  });

  it('deletes the answers kept for the subject’s own idempotent requests, and no one else’s', async () => {
    const lily = { id: `l-${unique}`, name: `Lily ${unique}`, phone: `560-${unique}`, ward: 'F' };
    expect((await app.mediator.execute(new Register(lily))).ok).toBe(true);
    const store = new PostgresIdempotencyStore(test.database);
    const answer = { status: 201, headers: {}, body: JSON.stringify(lily) };
    for (const scope of [`user:lily-${unique} POST /patients`, `user:lily-${unique}x POST /patients`]) {
      await store.claim(scope, 'k1', 'f', new Date(Date.now() + 60_000));
      await store.complete(scope, 'k1', answer);
    }
    expect(await rowsContaining(test.database, lily.name)).toContainEqual({
      table: 'idempotency_keys',
      rows: 2,
    });
    const forgotten = await app.mediator.execute(new Forget({ id: lily.id, principal: `lily-${unique}` }));
    expect(forgotten.ok).toBe(true);
    // The other user's answer (a subject whose id merely starts the same) is kept.
    expect(await rowsContaining(test.database, lily.name)).toEqual([{ table: 'idempotency_keys', rows: 1 }]);
    const { rows } = await test.database.query<{ responses: number }>(
      `SELECT responses FROM ${test.database.schema}.erasures WHERE subject = $1`,
      [lily.id],
    );
    expect(rows).toEqual([{ responses: 1 }]);
  });

  it('refuses to append personal data in clear when no master key is configured', async () => {
    const store = new PostgresEventStore(test.database);
    await expect(
      store.append(`Patient-x-${unique}`, [
        newEvent(Registered.type, { patientId: `x-${unique}`, name: 'X', phone: '1', ward: 'A' }),
      ]),
    ).rejects.toThrow(/'patient.registered.v1' declares personal data, and no master key is configured/);
    await expect(store.readStream(`Patient-${daisy.id}`)).rejects.toThrow(/no master key is configured/);
  });

  it('fails loudly on sealed data that was altered, rather than reading it as erased', async () => {
    await test.database.query(
      `UPDATE ${test.database.schema}.events
       SET data = jsonb_set(data, '{$personal,fields}', '["phone","name"]') WHERE stream_id = $1`,
      [`Patient-${daisy.id}`],
    );
    await expect(app.container.root.resolve(EventStore).readStream(`Patient-${daisy.id}`)).rejects.toThrow(
      /does not open with its key: it was altered/,
    );
  });
});

describe('declaring personal data', () => {
  it('names what is wrong with a declaration', () => {
    const payload = unchecked<{ id: string; name: string; age: number }>();
    expect(() => event('bad.a.v1', payload, { personal: { subject: 'id', fields: [] } })).toThrow(
      "The personal data of event 'bad.a.v1' names no personal field",
    );
    expect(() => event('bad.b.v1', payload, { personal: { subject: 'id', fields: ['id'] } })).toThrow(
      /seals its subject field 'id'/,
    );
    expect(() => event('bad.c.v1', payload, { personal: { subject: 'id', fields: ['name'] } })).not.toThrow();
    expect(() =>
      event('bad.c.v1', payload, { personal: { subject: 'id', fields: ['name'], placeholders: { age: 0 } } }),
    ).toThrow("Event 'bad.c.v1' is declared twice with different personal data");
    expect(() => command('bad.d', payload, { personal: { subject: 'id' } } as never)).toThrow(
      'Only events declare personal data, and bad.d is a command',
    );
  });
});
