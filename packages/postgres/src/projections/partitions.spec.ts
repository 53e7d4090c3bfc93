// Partitioned projections across processes: two database handles on one schema are two processes to PostgreSQL
// (each its own sessions, leases and member slot), which is what sharing and rebalancing are about.

import type { ChildProcess } from 'node:child_process';
import {
  type Application,
  createApplication,
  documents,
  EventStore,
  event,
  projection,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { migrate } from '../migrations/migrate.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { childLines, moduleProcess } from '../testing/childLines.ts';
import { postgresUrl, testSchema } from '../testing/databases.ts';
import { eventually as waitFor } from '../testing/eventually.ts';
import { postgresProjections } from './postgresProjections.ts';
import { ProjectionDaemon } from './projectionDaemon.ts';
import { projectionLag } from './projectionLag.ts';

const Counted = event('partitions.counted', unchecked<{ stream: string; n: number }>());
interface Count {
  readonly count: number;
  readonly last: number;
  /** Set when an event came before one of its stream that precedes it. */
  readonly disordered: boolean;
}
const counts = documents<Count>('partition-counts');
const counting = projection(counts, { partitions: 4 }).on(Counted, async (e, docs) => {
  const updated = await docs.update(e.stream, (d) => ({
    count: d.count + 1,
    last: e.n,
    disordered: d.disordered || e.n !== d.last + 1,
  }));
  if (!updated) await docs.put(e.stream, { count: 1, last: e.n, disordered: e.n !== 1 });
});

const streams = 40;
const fast = { pollMs: 200, leaseRetryMs: 100, onError: () => {} };

const eventually = (check: () => boolean | Promise<boolean>, what: string, ms = 20_000) =>
  waitFor(check, what, ms);

describe('a partitioned projection run by two processes (PostgreSQL)', () => {
  const schema = testSchema();
  // Each "process" its own pool, named, so that one can be cut off from the server as a crash would.
  const pools = ['a', 'b'].map((name) => {
    const pool = new pg.Pool({
      connectionString: postgresUrl,
      max: 6,
      application_name: `${schema}-${name}`,
    });
    pool.on('error', () => {}); // idle clients of the one cut off: the pool's owner (this test) expects them
    return pool;
  });
  const [a, b] = pools.map((pool) => postgresDatabase({ pool, schema })) as [Database, Database];
  let written = 0;

  const build = (database: Database): Promise<Application> =>
    createApplication()
      .include(postgresPersistence(database), postgresProjections([counting]))
      .build();

  /** Appends the next `perStream` events of every stream. */
  async function write(app: Application, perStream: number): Promise<void> {
    const store = app.container.root.resolve(EventStore);
    for (let i = 0; i < perStream; i++) {
      written++;
      for (let s = 0; s < streams; s++) {
        await store.append(`s${s}`, [newEvent(Counted.type, { stream: `s${s}`, n: written })]);
      }
    }
  }

  beforeAll(async () => {
    await migrate(a);
  });
  afterAll(async () => {
    await a.exec(`DROP SCHEMA IF EXISTS ${a.schema} CASCADE`);
    await Promise.all(pools.map((pool) => pool.end()));
  });

  it('shares the partitions, rebalances when a process joins and when one dies, and applies each event once, in order', {
    timeout: 60_000,
  }, async () => {
    const appA = await build(a);
    const appB = await build(b);
    const one = new ProjectionDaemon(appA, a, fast).start();
    const two = new ProjectionDaemon(appB, b, fast);
    try {
      await write(appA, 3);
      await eventually(() => one.held.length === 4, 'the first process holds every partition');

      two.start();
      await eventually(
        () => one.held.length === 2 && two.held.length === 2,
        `the partitions shared two and two (${one.held.length} and ${two.held.length})`,
      );
      await write(appB, 3);
      expect([...one.held, ...two.held].sort()).toEqual(
        [0, 1, 2, 3].map((k) => `projection:partition-counts:v1:p${k}`),
      );

      // The second process dies: the server ends its sessions, and with them its leases and its member slot.
      await a.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        `${schema}-b`,
      ]);
      const stopped = two.stop(); // (so that it does not come back: a dead process does not)
      await write(appA, 3);
      await eventually(() => one.held.length === 4, 'the survivor holds every partition again');
      await stopped;

      await eventually(async () => {
        const lag = await projectionLag(a);
        return lag.length === 1 && lag[0]?.status === 'active' && lag[0].pendingEvents === 0;
      }, 'the projection caught up');
      const { rows } = await a.query<{ id: string; doc: Count }>(
        `SELECT id, doc FROM ${a.schema}.read_documents WHERE model = 'partition-counts@1'`,
      );
      expect(rows).toHaveLength(streams);
      for (const { doc } of rows) expect(doc).toEqual({ count: 9, last: written, disordered: false });
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  });
});

/** The projection both processes of the frozen-member case run: the same declaration, in the child as a string. */
const declaration = `
const Noted = event('frozen.noted', unchecked());
const notes = documents('frozen-notes');
const noting = projection(notes, { partitions: 4 }).on(Noted, (e, docs) => docs.put(e.stream, { n: e.n }));
`;
const Noted = event('frozen.noted', unchecked<{ stream: string; n: number }>());
const notes = documents<{ n: number }>('frozen-notes');
const noting = projection(notes, { partitions: 4 }).on(Noted, (e, docs) => docs.put(e.stream, { n: e.n }));

/** Short, so that the test is: the server ends an idle session of its own after half of it. */
const frozenLeaseMs = 4000;

/** A process running the partitioned projection: says `held <n>` each time the partitions it holds change. */
const member = `
const { createApplication, documents, event, projection, unchecked } = await import('@myelin/core');
const { postgresPersistence, postgresProjections, ProjectionDaemon } = await import('@myelin/postgres');
const { postgresDatabase } = await import('@myelin/postgres/pg');
${declaration}
const database = postgresDatabase({ connectionString: process.env.URL, schema: process.env.SCHEMA, leaseMs: ${frozenLeaseMs} });
const app = await createApplication().include(postgresPersistence(database), postgresProjections([noting])).build();
const daemon = new ProjectionDaemon(app, database, { pollMs: 200, leaseRetryMs: 100, onError: () => {} }).start();
let said = -1;
setInterval(() => {
  if (daemon.held.length !== said) process.stdout.write('held ' + (said = daemon.held.length) + '\\n');
}, 20);
`;

describe('a partitioned projection whose other process is frozen (PostgreSQL)', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it('is taken whole by the live process within the lease time: the frozen one’s member slot goes with its session', {
    timeout: 60_000,
  }, async () => {
    const schema = testSchema();
    const database = postgresDatabase({ connectionString: postgresUrl, schema, leaseMs: frozenLeaseMs });
    await migrate(database);
    const app = await createApplication()
      .include(postgresPersistence(database), postgresProjections([noting]))
      .build();
    const live = new ProjectionDaemon(app, database, fast).start();
    try {
      const store = app.container.root.resolve(EventStore);
      for (let s = 0; s < 8; s++)
        await store.append(`n${s}`, [newEvent(Noted.type, { stream: `n${s}`, n: 1 })]);
      await eventually(() => live.held.length === 4, 'the live process holds every partition');

      const child = moduleProcess(member, { URL: postgresUrl, SCHEMA: schema });
      children.push(child);
      const lines = childLines(child, 'the other member');
      await lines.line((line) => line === 'held 2', 30_000);
      await eventually(() => live.held.length === 2, 'the partitions shared two and two');

      child.kill('SIGSTOP');
      const frozenAt = performance.now();
      await eventually(() => live.held.length === 4, 'the live process takes the frozen one’s partitions');
      const takeoverMs = Math.round(performance.now() - frozenAt);
      console.log(
        `a frozen partition member: the live process held all four partitions ${takeoverMs} ms after the freeze`,
      );
      expect(takeoverMs).toBeLessThan(2 * frozenLeaseMs);
    } finally {
      await live.stop();
      await app[Symbol.asyncDispose]();
      await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`).catch(() => {});
      await database.close();
    }
  });
});
