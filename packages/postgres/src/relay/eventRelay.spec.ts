import {
  type AnyHandler,
  type Application,
  createApplication,
  event,
  eventHandler,
  type NewEvent,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { appendToStream, PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { engines, postgresUrl, type TestDatabase } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { EventRelay, relaySubscription } from './eventRelay.ts';

// Each test reads the whole log from its start, so each has an event type of its own.
const Noted = event('test.noted.v1', unchecked<{ stream: string; n: number }>());
const Picky = event('test.picky.v1', unchecked<{ stream: string; n: number }>());
const Again = event('test.again.v1', unchecked<{ stream: string; n: number }>());
const Shared = event('test.shared.v1', unchecked<{ stream: string; n: number }>());

function noted(stream: string, n: number, type: string = Noted.type): NewEvent {
  return newEvent(type, { stream, n });
}

/** Resolves when `check` holds, polling; fails after `ms` with what was seen. */

const fast = { pollMs: 200, leaseRetryMs: 100, backoffMs: 20, onError: () => {} };

interface Seen {
  readonly handled: string[];
}

function appWith(database: Database, handlers: AnyHandler[]): Promise<Application> {
  return createApplication()
    .include(postgresPersistence(database))
    .handle(...handlers)
    .build();
}

describe.each(engines)('the event relay on $name', (engine) => {
  let test: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    test = await engine.open();
    store = new PostgresEventStore(test.database);
  });
  afterAll(() => test.drop());

  it('delivers committed events to each handler in log order, and resumes from its checkpoint after a restart', async () => {
    const a: Seen = { handled: [] };
    const b: Seen = { handled: [] };
    const app = await appWith(test.database, [
      eventHandler('a', Noted, (e) => void a.handled.push(`${e.stream}:${e.n}`)),
      eventHandler('b', Noted, (e) => void b.handled.push(`${e.stream}:${e.n}`)),
    ]);
    const relay = new EventRelay(app, test.database, fast).start();
    await store.append('r1-x', [noted('x', 1), noted('x', 2)]);
    await store.append('r1-y', [noted('y', 1)]);
    await store.append('r1-x', [noted('x', 3)]);
    const all = ['x:1', 'x:2', 'y:1', 'x:3'];
    await eventually(
      () => a.handled.length >= 4 && b.handled.length >= 4,
      () => [a, b],
    );
    expect(a.handled).toEqual(all);
    expect(b.handled).toEqual(all);
    await relay.stop();

    await store.append('r1-y', [noted('y', 2)]);
    const restarted = new EventRelay(app, test.database, fast).start();
    await eventually(
      () => a.handled.length >= 5 && b.handled.length >= 5,
      () => [a, b],
    );
    await restarted.stop();
    expect(a.handled).toEqual([...all, 'y:2']);
    expect(b.handled).toEqual([...all, 'y:2']);
    await app.dispose();
  });

  it('retries a failing event, then parks it; its stream waits behind it, other streams go on; replay resumes', async () => {
    const handled: string[] = [];
    let failing = true;
    let attempts = 0;
    const app = await appWith(test.database, [
      eventHandler('picky', Picky, (e) => {
        if (e.stream === 'bad' && e.n === 1 && failing) {
          attempts++;
          throw new Error('the printer is on fire');
        }
        handled.push(`${e.stream}:${e.n}`);
      }),
    ]);
    const relay = new EventRelay(app, test.database, { ...fast, maxAttempts: 3 }).start();
    await store.append('r2-bad', [noted('bad', 1, Picky.type)]);
    await store.append('r2-good', [noted('good', 1, Picky.type)]);
    await store.append('r2-bad', [noted('bad', 2, Picky.type)]);
    await store.append('r2-good', [noted('good', 2, Picky.type)]);

    const subscription = relaySubscription(Picky.type, 'picky');
    await eventually(
      () => attempts === 3 && handled.length === 2,
      () => ({ attempts, handled }),
    );
    await eventually(
      async () => (await relay.parked(subscription)).length === 1,
      () => 'no parked event',
    );
    const parked = await relay.parked(subscription);
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({
      subscription,
      streamId: 'r2-bad',
      type: Picky.type,
      attempts: 3,
      waiting: 1,
    });
    expect(parked[0]?.error).toContain('the printer is on fire');
    // The good stream went on; bad:2 waits behind bad:1.
    expect(handled).toEqual(['good:1', 'good:2']);

    failing = false;
    expect(await relay.replay(subscription, parked[0]?.eventId ?? '')).toBe(true);
    expect(await relay.replay(subscription, 'no-such-event')).toBe(false);
    await eventually(
      () => handled.length === 4,
      () => handled,
    );
    expect(handled).toEqual(['good:1', 'good:2', 'bad:1', 'bad:2']);
    expect(await relay.parked(subscription)).toEqual([]);
    await relay.stop();
    await app.dispose();
  });

  it('an idempotent handler has no second effect when the log is delivered again; a plain one does', async () => {
    const effects = { idempotent: 0, plain: 0 };
    const app = await appWith(test.database, [
      eventHandler({ name: 'once', idempotent: true }, Again, () => void effects.idempotent++),
      eventHandler('twice', Again, () => void effects.plain++),
    ]);
    await store.append('r3-z', [noted('z', 1, Again.type), noted('z', 2, Again.type)]);
    const relay = new EventRelay(app, test.database, fast).start();
    await eventually(
      () => effects.idempotent === 2 && effects.plain >= 2,
      () => effects,
    );
    await relay.stop();
    const before = { ...effects };

    // A crash before the checkpoint moved: the next run delivers everything again (at least once).
    await test.database.query(
      `UPDATE ${test.database.schema}.subscriptions SET transaction_id = '0', sequence = 0 WHERE name = ANY ($1)`,
      [[relaySubscription(Again.type, 'once'), relaySubscription(Again.type, 'twice')]],
    );
    const again = new EventRelay(app, test.database, fast).start();
    await eventually(
      () => effects.plain >= before.plain * 2,
      () => effects,
    );
    await again.stop();
    expect(effects.idempotent).toBe(before.idempotent);
    await app.dispose();
  });
});

describe('relays in several processes on PostgreSQL', () => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await (engines.find((e) => e.name === 'postgres') as (typeof engines)[number]).open();
  });
  afterAll(() => test.drop());

  it('handle each event once per handler, and a standby takes over within seconds when the active one stops', async () => {
    // Two database handles: two pools and two lease sessions, as two processes would have.
    const handles = [0, 1].map(() =>
      postgresDatabase({ connectionString: postgresUrl, schema: test.database.schemaName }),
    );
    const counts = new Map<string, number>();
    const apps: Application[] = [];
    for (const [i, database] of handles.entries()) {
      apps.push(
        await createApplication()
          .include(postgresPersistence(database, { migrate: false }))
          .handle(
            eventHandler('count', Shared, (e) => {
              const key = `${e.stream}:${e.n}`;
              counts.set(key, (counts.get(key) ?? 0) + 1);
              lastBy = i;
            }),
          )
          .build(),
      );
    }
    let lastBy = -1;
    const relays = apps.map((app, i) => new EventRelay(app, handles[i] as Database, fast).start());
    const store = new PostgresEventStore(test.database);
    for (let n = 1; n <= 20; n++) await store.append(`r4-${n % 3}`, [noted(String(n % 3), n, Shared.type)]);
    await eventually(
      () => counts.size === 20,
      () => counts.size,
    );
    const active = lastBy;
    await relays[active]?.stop(); // the active process goes away; its session and lease with it

    for (let n = 21; n <= 30; n++) await store.append(`r4-${n % 3}`, [noted(String(n % 3), n, Shared.type)]);
    const started = Date.now();
    await eventually(
      () => counts.size === 30,
      () => counts.size,
      10_000,
    );
    const failover = Date.now() - started;
    expect(lastBy).toBe(1 - active);
    expect(failover).toBeLessThan(10_000);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);

    await relays[1 - active]?.stop();
    for (const app of apps) await app.dispose();
    for (const database of handles) await database.close();
  });

  it('never passes over an event whose transaction commits after later ones: it waits for it, then keeps order', async () => {
    const Late = event('test.late.v1', unchecked<{ stream: string; n: number }>());
    const seen: number[] = [];
    const app = await createApplication()
      .include(postgresPersistence(test.database))
      .handle(eventHandler('late', Late, (e) => void seen.push(e.n)))
      .build();
    const store = new PostgresEventStore(test.database);
    const relay = new EventRelay(app, test.database, fast).start();
    let commit: () => void = () => {};
    const held = new Promise<void>((resolve) => (commit = resolve));
    let begun: () => void = () => {};
    const written = new Promise<void>((resolve) => (begun = resolve));
    // Event 1 is written first, in a transaction that stays open while 2 and 3 commit.
    const first = test.database.transaction(async (sql) => {
      await appendToStream(sql, test.database.schema, 'late-1', [noted('late', 1, Late.type)], 'any');
      begun();
      await held;
    });
    await written;
    await store.append('late-2', [noted('late', 2, Late.type)]);
    await store.append('late-3', [noted('late', 3, Late.type)]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen).toEqual([]); // 2 and 3 are committed, but a reader going by sequence would now skip 1
    commit();
    await first;
    await eventually(
      () => seen.length === 3,
      () => seen,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen).toEqual([1, 2, 3]);
    await relay.stop();
    await app.dispose();
  });

  it('wakes a relay in another process by NOTIFY when a commit lands, long before its next poll', async () => {
    const reader = postgresDatabase({ connectionString: postgresUrl, schema: test.database.schemaName });
    const writer = postgresDatabase({ connectionString: postgresUrl, schema: test.database.schemaName });
    const Woken = event('test.woken.v1', unchecked<{ stream: string; n: number }>());
    const seen: number[] = [];
    const app = await createApplication()
      .include(postgresPersistence(reader, { migrate: false }))
      .handle(eventHandler('wake', Woken, (e) => void seen.push(e.n)))
      .build();
    const relay = new EventRelay(app, reader, { ...fast, pollMs: 60_000 }).start();
    await eventually(
      () => relay.subscriptions.length === 1,
      () => 'started',
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // it has read the (empty) log and waits
    const store = new PostgresEventStore(writer);
    const started = Date.now();
    await store.append('r6-a', [noted('wake', 1, Woken.type)]);
    await eventually(
      () => seen.length === 1,
      () => seen,
      3000,
    );
    expect(Date.now() - started).toBeLessThan(10_000); // a poll would have taken a minute
    await relay.stop();
    await app.dispose();
    await reader.close();
    await writer.close();
  });

  it('a process whose lease session is cut (as when its host dies) stops, and another takes over', async () => {
    const database = postgresDatabase({ connectionString: postgresUrl, schema: test.database.schemaName });
    const Cut = event('test.cut.v1', unchecked<{ stream: string; n: number }>());
    const counts = new Map<number, number>();
    const app = await createApplication()
      .include(postgresPersistence(database, { migrate: false }))
      .handle(eventHandler('count', Cut, (e) => void counts.set(e.n, (counts.get(e.n) ?? 0) + 1)))
      .build();
    const store = new PostgresEventStore(test.database);
    const relay = new EventRelay(app, database, fast).start();
    for (let n = 1; n <= 5; n++) await store.append(`r5-${n}`, [noted('cut', n, Cut.type)]);
    await eventually(
      () => counts.size === 5,
      () => counts.size,
    );
    const subscription = relaySubscription(Cut.type, 'count');
    const epoch = async () =>
      (
        await test.database.query<{ epoch: string }>(
          `SELECT epoch::text FROM ${test.database.schema}.subscriptions WHERE name = $1`,
          [subscription],
        )
      ).rows[0]?.epoch;
    const before = await epoch();

    // The server ends the session holding the lease: its lock is gone at once.
    const { rows } = await test.database.query<{ ended: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks WHERE locktype = 'advisory' AND granted
         AND objid = (hashtextextended($1, 0) & 4294967295)::oid`,
      [`myelin.subscription:${test.database.schemaName}:${subscription}`],
    );
    expect(rows).toEqual([{ ended: true }]);
    for (let n = 6; n <= 10; n++) await store.append(`r5-${n}`, [noted('cut', n, Cut.type)]);
    await eventually(
      () => counts.size === 10,
      () => counts.size,
    );
    // It noticed, gave the lease up, and took it again through a new session: a new epoch fences the old one.
    expect(Number(await epoch())).toBeGreaterThan(Number(before));
    await relay.stop();
    await app.dispose();
    await database.close();
  });
});
