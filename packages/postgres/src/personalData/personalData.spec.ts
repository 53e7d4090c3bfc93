import {
  AggregateRoot,
  type Application,
  command,
  createApplication,
  documents,
  EventStore,
  erased,
  event,
  eventHandler,
  handler,
  type Logger,
  localMasterKey,
  logging,
  type MasterKey,
  newMasterKey,
  ok,
  PersonalData,
  projection,
  type Repository,
  token,
  unchecked,
} from '@myelin/core';
import {
  expectSuccess,
  newEvent,
  type PersonalDataUnderTest,
  type PersonalDataWorld,
  personalDataContract,
  personalDataWorld,
} from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { PostgresIdempotencyStore } from '../idempotency/postgresIdempotencyStore.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresProjections } from '../projections/postgresProjections.ts';
import { ProjectionDaemon } from '../projections/projectionDaemon.ts';
import { projectionLag } from '../projections/projectionLag.ts';
import { EventRelay } from '../relay/eventRelay.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { rowsContaining } from '../testing/searchEverything.ts';

const fast = { pollMs: 200, leaseRetryMs: 100 };

/** Personal data on one schema (migrated when opened), protected with `masterKey`. */
function onDatabase(database: Database, masterKey: MasterKey): PersonalDataUnderTest {
  return {
    persistence: postgresPersistence(database, { personalData: { masterKey }, migrate: false }),
    eventSourced: (repository, type, options) => postgresEventSourcedRepository(repository, type, options),
    projections: (projections, options) => postgresProjections(projections, options),
    runner: (app) => new ProjectionDaemon(app, database, fast),
    // Each named projection has one version, serving, with nothing left to apply.
    caughtUp: (_app, names) =>
      eventually(
        async () => {
          const lag = await projectionLag(database);
          return names.every((name) => {
            const [version, ...others] = lag.filter((row) => row.name === name);
            return others.length === 0 && version?.status === 'active' && version.pendingEvents === 0;
          });
        },
        `${names.join(', ')} caught up`,
      ),
    async storedData(streamId) {
      const { rows } = await database.query<{ data: unknown }>(
        `SELECT data FROM ${database.schema}.events WHERE stream_id = $1 ORDER BY stream_version`,
        [streamId],
      );
      return rows.map((row) => row.data);
    },
  };
}

describe.each(engines)('the personal data contract on $name', (engine) => {
  let test: TestDatabase;
  let subject: PersonalDataUnderTest;
  beforeAll(async () => {
    test = await engine.open();
    subject = onDatabase(test.database, localMasterKey(newMasterKey()));
  });
  afterAll(() => test.drop());

  for (const contract of personalDataContract()) it(contract.name, () => contract.run(subject));
});

/** Every line the application logged, as JSON. */
const logged: string[] = [];
const logger = Object.fromEntries(
  ['debug', 'info', 'warn', 'error'].map((level) => [
    level,
    (fields: object, message?: string) => logged.push(JSON.stringify({ ...fields, message })),
  ]),
) as unknown as Logger;

describe.each(engines)('personal data on $name, as its tables hold it', (engine) => {
  let test: TestDatabase;
  let w: PersonalDataWorld;
  let app: Application;
  let daemon: ProjectionDaemon;

  beforeAll(async () => {
    test = await engine.open();
    w = personalDataWorld(onDatabase(test.database, localMasterKey(newMasterKey())));
    app = await w.build([(builder) => builder.use(...logging(logger))]);
    // Quiet: the last case alters an event, which the daemon then fails on.
    daemon = new ProjectionDaemon(app, test.database, { ...fast, onError: () => {} }).start();
  });
  afterAll(async () => {
    await daemon?.stop();
    await app?.dispose();
    await test?.drop();
  });

  const erasureOf = async (subject: string) =>
    (
      await test.database.query(
        `SELECT subject, requested_by, reason, keys, read_models, responses FROM ${test.database.schema}.erasures
         WHERE subject = $1`,
        [subject],
      )
    ).rows;

  it('only the read models hold personal data in clear, no table once forgotten, and no log line ever', async () => {
    const [peach, daisy] = [w.person('Peach'), w.person('Daisy')];
    await w.register(app, peach);
    await w.register(app, daisy);
    await w.caughtUp(app);
    // Outside the read models (which hold it in clear until an erasure reaches them), no table has it.
    expect((await rowsContaining(test.database, peach.name)).map((hit) => hit.table)).toEqual([
      'read_documents',
    ]);
    expect(await w.cachedCard(app, peach.id)).toMatchObject({ name: peach.name }); // queries are logged too

    expect((await w.forget(app, peach.id)).ok).toBe(true);
    expect(await w.cachedCard(app, peach.id)).toMatchObject({ name: erased });
    await w.move(app, peach.id, 'B');
    await w.caughtUp(app);
    expect(await rowsContaining(test.database, peach.name)).toEqual([]);
    expect(await rowsContaining(test.database, peach.phone)).toEqual([]);
    expect(await erasureOf(peach.id)).toEqual([
      {
        subject: peach.id,
        requested_by: 'dpo',
        reason: 'ticket 17',
        keys: 1,
        read_models: [`${w.models.inline} v1`, `${w.models.async} v1`],
        responses: 0,
      },
    ]);

    // What was logged along the way names no one's data.
    expect(logged.length).toBeGreaterThan(5);
    for (const needle of [peach.name, peach.phone, daisy.name, daisy.phone]) {
      expect(logged.filter((line) => line.includes(needle))).toEqual([]);
    }
  });

  it('deletes the rows of the answers kept for the subject’s own idempotent requests, and no one else’s', async () => {
    const lily = w.person('Lily');
    await w.register(app, lily);
    const store = new PostgresIdempotencyStore(test.database);
    const answer = { status: 201, headers: {}, body: JSON.stringify(lily) };
    for (const scope of [`user:${lily.id} POST /patients`, `user:${lily.id}x POST /patients`]) {
      await store.claim(scope, 'k1', 'f', new Date(Date.now() + 60_000));
      await store.complete(scope, 'k1', answer);
    }
    expect(await rowsContaining(test.database, lily.name)).toContainEqual({
      table: 'idempotency_keys',
      rows: 2,
    });
    expect((await w.forget(app, lily.id, { principal: lily.id })).ok).toBe(true);
    // The other user's answer (a subject whose id merely starts the same) is kept.
    expect(await rowsContaining(test.database, lily.name)).toEqual([{ table: 'idempotency_keys', rows: 1 }]);
    expect(await erasureOf(lily.id)).toMatchObject([{ responses: 1 }]);
  });

  it('refuses to append personal data in clear when no master key is configured', async () => {
    const dora = w.person('Dora');
    await w.register(app, dora);
    const store = new PostgresEventStore(test.database);
    await expect(
      store.append(w.stream('x'), [
        newEvent(w.Registered.type, { patientId: 'x', name: 'X', phone: '1', ward: 'A' }),
      ]),
    ).rejects.toThrow(`'${w.Registered.type}' declares personal data, and no master key is configured`);
    await expect(store.readStream(w.stream(dora.id))).rejects.toThrow(/no master key is configured/);
  });

  it('fails loudly on sealed data that was altered in its table, rather than reading it as erased', async () => {
    const alba = w.person('Alba');
    await w.register(app, alba);
    await test.database.query(
      `UPDATE ${test.database.schema}.events
       SET data = jsonb_set(data, '{$personal,fields}', '["phone","name"]') WHERE stream_id = $1`,
      [w.stream(alba.id)],
    );
    await expect(app.container.root.resolve(EventStore).readStream(w.stream(alba.id))).rejects.toThrow(
      /does not open with its key: it was altered/,
    );
  });
});

// A club member's visits: an aggregate with personal data and snapshots, which are sealed with the member's key.
const Joined = event('snapshot.member.joined.v1', unchecked<{ memberId: string; name: string }>(), {
  personal: { subject: 'memberId', fields: ['name'] },
});
const Visited = event('snapshot.member.visited.v1', unchecked<{ memberId: string }>());
type MemberState = { name: string; visits: number };
class Member extends AggregateRoot<MemberState, InstanceType<typeof Joined> | InstanceType<typeof Visited>> {
  constructor(id: string) {
    super(id, { name: '', visits: 0 });
  }
  protected override apply(
    state: MemberState,
    e: InstanceType<typeof Joined> | InstanceType<typeof Visited>,
  ): MemberState {
    return e instanceof Joined ? { name: e.name, visits: 0 } : { ...state, visits: state.visits + 1 };
  }
  join(name: string): void {
    this.raise(new Joined({ memberId: this.id, name }));
  }
  visit(): void {
    this.raise(new Visited({ memberId: this.id }));
  }
}
const Members = token<Repository<Member>>('Members');
const Visit = command(
  'snapshot.member.visit',
  unchecked<{ id: string; name?: string }>(),
).returns<MemberState>();
const ForgetMember = command('snapshot.member.forget', unchecked<{ id: string }>()).returns<void>();

describe.each(engines)('event handlers the relay runs on $name, with personal data', (engine) => {
  it('take the data in clear while the key exists, and placeholders once it is gone, holding nothing back', async () => {
    const test = await engine.open();
    try {
      const w = personalDataWorld(onDatabase(test.database, localMasterKey(newMasterKey())));
      const seen: { name: string; phone: string }[] = [];
      const welcome = eventHandler(`${w.tag}.welcome`, w.Registered, (e) => {
        seen.push({ name: e.name, phone: e.phone });
      });
      await using app = await w.build([(builder) => builder.handle(welcome)]);
      const errors: unknown[] = [];
      const relay = new EventRelay(app, test.database, { ...fast, onError: (error) => errors.push(error) });
      try {
        const [peach, iris] = [w.person('Peach'), w.person('Iris')];
        await w.register(app, peach);
        await w.register(app, iris, 'G', true); // registered and forgotten in one command, before any delivery
        relay.start();
        await eventually(
          () => seen.length >= 2,
          () => seen,
        );
        expect(seen).toEqual([
          { name: peach.name, phone: peach.phone },
          { name: erased, phone: erased },
        ]);
        // Nothing retrying, parked (a dead letter) or waiting behind one.
        const { rows } = await test.database.query(`SELECT status FROM ${test.database.schema}.held_events`);
        expect(rows).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        await relay.stop();
      }
    } finally {
      await test.drop();
    }
  });
});

// Two sessions at once: PGlite has one.
describe('an async projection batch beside an erasure of its subject, on postgres', () => {
  it('is waited for by the erasure, whose hook then blanks what the batch wrote in clear', async () => {
    const test = await (
      engines.find((engine) => engine.name === 'postgres') as (typeof engines)[number]
    ).open();
    try {
      const Joined = event('race.joined.v1', unchecked<{ memberId: string; name: string }>(), {
        personal: { subject: 'memberId', fields: ['name'] },
      });
      const Forget = command('race.Forget', unchecked<{ id: string }>()).returns<void>();
      const { promise: inside, resolve: entered } = Promise.withResolvers<void>();
      const { promise: gate, resolve: release } = Promise.withResolvers<void>();
      const members = documents<{ name: string }>('race-members');
      // Holds its batch open once it has read the member's name in clear, until the test lets it write.
      const slow = projection(members, { mode: 'async' })
        .on(Joined, async (e, docs) => {
          entered();
          await gate;
          await docs.put(e.memberId, { name: e.name });
        })
        .erase(async (memberId, docs) => {
          if ((await docs.get(memberId)) !== undefined) await docs.put(memberId, { name: erased });
        });
      await using app = await createApplication()
        .include(
          postgresPersistence(test.database, { personalData: { masterKey: localMasterKey(newMasterKey()) } }),
          postgresProjections([slow]),
        )
        .handle(
          handler(Forget, { personalData: PersonalData }, async ({ id }, { personalData }) => {
            await personalData.forget(id, { requestedBy: 'dpo' });
            return ok(undefined);
          }),
        )
        .build();
      await app.container.root
        .resolve(EventStore)
        .append('member-m1', [newEvent(Joined.type, { memberId: 'm1', name: 'Wario Racer' })]);
      await using _daemon = new ProjectionDaemon(app, test.database, fast).start();
      // Let go however the test ends (disposed before the daemon, which waits for its batch).
      await using _released = { [Symbol.asyncDispose]: async () => release() };
      await inside; // the batch read the name in clear, and holds the key it opened it with

      const forgetting = app.mediator.execute(new Forget({ id: 'm1' }));
      const waiting = async () => {
        const { rows } = await test.database.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND starts_with(query, 'DELETE FROM ' || $1 || '.personal_keys')`,
          [test.database.schema],
        );
        return (rows[0]?.n ?? 0) > 0;
      };
      const blocked = eventually(waiting, 'the erasure waiting for the batch').then(() => 'waiting');
      expect(await Promise.race([forgetting.then(() => 'forgotten'), blocked])).toBe('waiting');

      release();
      expectSuccess(await forgetting);
      const { rows } = await test.database.query<{ doc: unknown }>(
        `SELECT doc FROM ${test.database.schema}.read_documents WHERE model = 'race-members@1' AND id = 'm1'`,
      );
      expect(rows).toEqual([{ doc: { name: erased } }]);
    } finally {
      await test.drop();
    }
  });
});

describe.each(engines)('snapshots of an aggregate with personal data on $name', (engine) => {
  it('are sealed with the subject’s key, and not read once the subject is forgotten', async () => {
    const test = await engine.open();
    const app = await createApplication()
      .include(
        postgresPersistence(test.database, { personalData: { masterKey: localMasterKey(newMasterKey()) } }),
      )
      .register(
        postgresEventSourcedRepository(Members, Member, { events: [Joined, Visited], snapshotEvery: 2 }),
      )
      .handle(
        handler(Visit, { members: Members }, async (c, { members }) => {
          const found = await members.get(c.id);
          const member = found ?? new Member(c.id);
          if (found === undefined) member.join(c.name ?? '');
          member.visit();
          await (found === undefined ? members.add(member) : members.update(member));
          return ok(member.state);
        }),
        handler(ForgetMember, { personal: PersonalData }, async (c, { personal }) => {
          await personal.forget(c.id, { requestedBy: 'dpo' });
          return ok(undefined);
        }),
      )
      .build();
    try {
      const name = `Snapper ${crypto.randomUUID().slice(0, 8)}`;
      for (let i = 0; i < 4; i++) await app.mediator.execute(new Visit({ id: 'm1', name }));
      const { rows } = await test.database.query<{ version: number }>(
        `SELECT version FROM ${test.database.schema}.snapshots WHERE stream_id = 'Member-m1'`,
      );
      expect(rows).toEqual([{ version: 4 }]); // five events (joined, then four visits): the last snapshot at 4
      expect(await rowsContaining(test.database, name)).toEqual([]);
      // Loaded from the sealed snapshot (and the events after it), in clear.
      expect(await app.mediator.execute(new Visit({ id: 'm1' }))).toMatchObject({
        data: { name, visits: 5 },
      });
      expect((await app.mediator.execute(new ForgetMember({ id: 'm1' }))).ok).toBe(true);
      // The snapshot no longer opens: the member is rebuilt from the events, the name a placeholder.
      expect(await app.mediator.execute(new Visit({ id: 'm1' }))).toMatchObject({
        data: { name: erased, visits: 6 },
      });
    } finally {
      await app.dispose();
      await test.drop();
    }
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

describe('sealed appends on postgres', () => {
  it('are planned once per connection, as appends in clear are, not at every execution', async () => {
    // A data key id as an array parameter made PostgreSQL plan the append again at every execution (a plan for a
    // known array length looked cheaper than the generic one): about 10 µs of its CPU per event.
    const postgres = engines.find((engine) => engine.name === 'postgres') as (typeof engines)[number];
    const test = await postgres.open({ max: 1 });
    try {
      // Plans differ by the table's statistics: as a service's, it holds thousands of keys.
      await test.database.exec(
        `INSERT INTO ${test.database.schema}.personal_keys (id, subject, wrapped, master_key)
         SELECT 'key-' || n, 'someone-' || n, 'wrapped', 'local' FROM generate_series(1, 5000) AS n;
         ANALYZE ${test.database.schema}.personal_keys`,
      );
      const store = new PostgresEventStore(test.database, {
        personalData: { masterKey: localMasterKey(newMasterKey()) },
      });
      const w = personalDataWorld(onDatabase(test.database, localMasterKey(newMasterKey())));
      const carla = w.person('Carla');
      const registered = () =>
        newEvent(w.Registered.type, { patientId: carla.id, name: carla.name, phone: carla.phone, ward: 'B' });
      for (let i = 0; i < 8; i++) await store.append(w.stream(carla.id), [registered(), registered()], i * 2);
      const { rows } = await test.database.query<{ generic: number; custom: number }>(
        `SELECT generic_plans::integer AS generic, custom_plans::integer AS custom FROM pg_prepared_statements
         WHERE statement LIKE '%personal_keys%' AND statement LIKE '%INSERT INTO%events%'`,
      );
      // The first append's statement (a new stream) ran once; the next seven's, six times after their first plan.
      expect(rows.map((row) => row.generic + row.custom).sort()).toEqual([1, 7]);
      expect(rows.find((row) => row.generic + row.custom === 7)).toMatchObject({ generic: 2, custom: 5 });
      expect(
        (await store.readStream(w.stream(carla.id))).every(
          (e) => (e.data as { name: string }).name === carla.name,
        ),
      ).toBe(true);
    } finally {
      await test.drop();
    }
  });
});
