// A lease holder frozen rather than killed (SIGSTOP, a paused VM): its kernel still answers TCP for it, so neither
// keep-alives nor the user timeout end its session; the server's idle-session timeout on the leases' session does,
// and another process takes over. Two processes: PostgreSQL only (PGlite is one process, with nothing to time out).
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Connection } from '../database/database.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { migrate } from '../migrations/migrate.ts';
import { childLines, moduleProcess } from '../testing/childLines.ts';
import { engines, postgresUrl, testSchema } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { Leases } from './leases.ts';

/** Short, so that the test is: the server ends an idle leases' session after half of it. */
const leaseMs = 4000;

/** A process holding the lease `frozen` through its own `Leases`: says `held`, then `lost` once it knows. */
const holder = `
const { postgresDatabase } = await import(${JSON.stringify(new URL('../database/postgresDatabase.ts', import.meta.url).href)});
const { Leases } = await import(${JSON.stringify(new URL('./leases.ts', import.meta.url).href)});
const database = postgresDatabase({ connectionString: process.env.URL, schema: process.env.SCHEMA, leaseMs: ${leaseMs} });
const lease = await new Leases(database).tryAcquire('frozen');
if (lease === undefined) throw new Error('the lease is not free');
void lease.lost.then(() => process.stdout.write('lost\\n'));
process.stdout.write('held\\n');
process.stdin.resume();
`;

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('leases held by a process that is frozen', () => {
  it('are taken over within the lease time; a live holder keeps its own past the idle timeout', async () => {
    const schema = testSchema();
    const database = postgresDatabase({ connectionString: postgresUrl, schema, leaseMs });
    const standby = new Leases(database);
    try {
      await migrate(database);
      // A live holder in this process, on a session that goes idle between its heartbeats.
      const live = await standby.tryAcquire('live');
      expect(live).toBeDefined();
      const { rows } = await (live as unknown as { connection: Connection }).connection.query(
        'SHOW idle_session_timeout',
      );
      expect(rows).toEqual([{ idle_session_timeout: `${leaseMs / 2 / 1000}s` }]);
      // A clock the server keeps: a session of the same idle timeout, started now, that says nothing; its end says
      // that the live holder's session has been open longer than that timeout.
      const clock = new pg.Client({ connectionString: postgresUrl });
      const clockEnded = new Promise<void>((resolve) => clock.on('error', () => resolve()));
      await clock.connect();
      await clock.query(`SET idle_session_timeout = ${leaseMs / 2}`);

      const child = moduleProcess(holder, { URL: postgresUrl, SCHEMA: schema });
      children.push(child);
      const lines = childLines(child, 'the lease holder');
      await lines.line((line) => line === 'held');
      expect(await standby.tryAcquire('frozen')).toBeUndefined();

      child.kill('SIGSTOP');
      const frozenAt = performance.now();
      // The standby tries every 50 ms (what a runner does, less often); taking the lease is the signal.
      let taken: Awaited<ReturnType<Leases['tryAcquire']>>;
      await eventually(
        async () => (taken = await standby.tryAcquire('frozen')) !== undefined,
        'the standby takes the frozen holder’s lease',
      );
      const takeoverMs = Math.round(performance.now() - frozenAt);
      console.log(`a frozen lease holder: the standby held its lease ${takeoverMs} ms after the freeze`);
      expect(takeoverMs).toBeLessThan(leaseMs);
      expect(taken?.active).toBe(true);

      // Woken, the holder finds its session ended by the server: its lease is lost.
      child.kill('SIGCONT');
      await lines.line((line) => line === 'lost');

      await clockEnded;
      expect(live?.active).toBe(true);
      expect(standby.held).toBe(2);
      await standby.release(live as NonNullable<typeof live>);
      expect(standby.held).toBe(1);
    } finally {
      await standby.close();
      await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`).catch(() => {});
      await database.close();
    }
  }, 30_000);
});

describe('leases on PGlite', () => {
  it('are taken and given back (one process, no session to time out)', async () => {
    const test = await (
      engines.find((engine) => engine.name === 'pglite') as (typeof engines)[number]
    ).open();
    const leases = new Leases(test.database);
    try {
      const lease = await leases.tryAcquire('only');
      expect(lease?.active).toBe(true);
      expect(await leases.tryAcquire('only')).toBeUndefined();
      await leases.release(lease as NonNullable<typeof lease>);
      expect(await leases.tryAcquire('only')).toBeDefined();
    } finally {
      await leases.close();
      await test.drop();
    }
  });
});
