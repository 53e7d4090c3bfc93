import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { erased, newMasterKey } from '@myelin/core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { migrate } from '../migrations/migrate.ts';
import { childLines } from '../testing/childLines.ts';
import { postgresUrl, testSchema } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { Forget, Join, memberApp } from '../testing/memberApp.ts';
import { Protection } from './protection.ts';

const script = fileURLToPath(new URL('../testing/memberProcess.ts', import.meta.url));
const kill: (() => void)[] = [];
afterAll(() => {
  for (const k of kill) k();
});

/**
 * The member process (memberProcess.ts) on `schema`, with `masterKey` or without one (`keyless`, `keyless-asked`),
 * named so that the test finds its sessions among the server's; `ask` is what it answers for an id now.
 */
function memberProcessThere(schema: string, how: string) {
  const url = `${postgresUrl}${postgresUrl.includes('?') ? '&' : '?'}application_name=erasure-there`;
  const child = spawn(process.execPath, ['--conditions=@myelin/source', script, url, schema, how], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  kill.push(() => child.kill('SIGKILL'));
  const there = childLines(child, 'the member process');
  return {
    ready: () => there.line((line) => line === 'ready', 60_000),
    /** What the other process answers when asked for `id` now: the line after those it has said. */
    async ask(id: string): Promise<unknown> {
      const said = there.seen.length;
      child.stdin.write(`${id}\n`);
      await there.line(() => there.seen.length > said, 60_000);
      const line = there.seen[said] as string;
      expect(line.startsWith(`${id} `)).toBe(true);
      return JSON.parse(line.slice(id.length + 1));
    },
    async stop(): Promise<void> {
      child.stdin.end();
      await there.exited;
    },
  };
}

describe('forgetting someone in one process', () => {
  it('drops the query results another process cached, which held their data', async () => {
    const schema = testSchema();
    const masterKey = newMasterKey();
    const database = postgresDatabase({ connectionString: postgresUrl, schema });
    await migrate(database);
    const here = await memberApp(database, masterKey);
    const there = memberProcessThere(schema, masterKey);
    const askThere = there.ask;
    try {
      await there.ready();
      const name = `Ada ${crypto.randomUUID().slice(0, 8)}`;
      await here.mediator.execute(new Join({ id: 'ada', name }));
      await here.mediator.execute(new Join({ id: 'bob', name: 'Bob' }));
      expect(await askThere('ada')).toBe(name);
      expect(await askThere('bob')).toBe('Bob');
      // Cached there for ten minutes: the other process does not read the log again for it...
      await database.query(`DELETE FROM ${database.schema}.events WHERE stream_id = 'member-bob'`);
      expect(await askThere('bob')).toBe('Bob');
      // ...until someone is forgotten here: its commit tells every process, which drop what they cached.
      expect((await here.mediator.execute(new Forget({ id: 'ada' }))).ok).toBe(true);
      // The notification is on its way: asked again until it has come (the test's timeout bounds a hang).
      let answer = await askThere('ada');
      while (answer === name) answer = await askThere('ada');
      expect(answer).toBe(erased);
      expect(await askThere('bob')).toBe(null);

      // The other process's session is cut: it opens another, and hears the next erasure on it.
      await here.mediator.execute(new Join({ id: 'cy', name: 'Cy' }));
      expect(await askThere('cy')).toBe('Cy');
      // Its listening session: the last statement it ran is the LISTEN, or the heartbeat every session sends.
      const listening = `SELECT pid FROM pg_stat_activity
        WHERE application_name = 'erasure-there' AND (query LIKE 'LISTEN%' OR query = 'SELECT 1')`;
      const pids = async () => (await database.query<{ pid: number }>(listening)).rows.map((row) => row.pid);
      let before: number[] = [];
      await eventually(async () => (before = await pids()).length === 1, 'the other process listening');
      await database.query('SELECT pg_terminate_backend($1)', [before[0]]);
      await eventually(
        async () => (await pids()).some((pid) => !before.includes(pid)),
        'the other process listening again',
      );
      // Its caches were dropped when the session was lost: asked again, it reads and caches the name anew...
      expect(await askThere('cy')).toBe('Cy');
      // ...which only the erasure, heard on the new session, drops.
      expect((await here.mediator.execute(new Forget({ id: 'cy' }))).ok).toBe(true);
      answer = await askThere('cy');
      while (answer === 'Cy') answer = await askThere('cy');
      expect(answer).toBe(erased);
    } finally {
      await there.stop();
      await here.dispose();
      await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
      await database.close();
    }
  });
  it.each([
    ['it imported an event type declaring personal data', 'keyless'],
    ['it declares none but sets hearErasures', 'keyless-asked'],
  ])(
    'drops them in a process without the master key too, answering from read models, when %s',
    async (_, how) => {
      const schema = testSchema();
      const masterKey = newMasterKey();
      const database = postgresDatabase({ connectionString: postgresUrl, schema });
      await migrate(database);
      // The read model a projection keeps in clear, which the keyless process answers from.
      await database.exec(
        `CREATE TABLE ${database.schema}.member_names (id text PRIMARY KEY, name text NOT NULL)`,
      );
      const here = await memberApp(database, masterKey);
      const there = memberProcessThere(schema, how);
      try {
        await there.ready();
        const name = `Dee ${crypto.randomUUID().slice(0, 8)}`;
        await here.mediator.execute(new Join({ id: 'dee', name }));
        await database.query(`INSERT INTO ${database.schema}.member_names (id, name) VALUES ('dee', $1)`, [
          name,
        ]);
        expect(await there.ask('dee')).toBe(name);
        // The projection's erasure hook blanks the row as the subject is forgotten; the cached answer still holds it...
        await database.query(`DELETE FROM ${database.schema}.member_names WHERE id = 'dee'`);
        expect(await there.ask('dee')).toBe(name);
        // ...until the erasure's commit reaches the keyless process, which drops what it cached.
        expect((await here.mediator.execute(new Forget({ id: 'dee' }))).ok).toBe(true);
        let answer = await there.ask('dee');
        while (answer === name) answer = await there.ask('dee');
        expect(answer).toBe(null);
      } finally {
        await there.stop();
        await here.dispose();
        await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
        await database.close();
      }
    },
  );
});

describe('the erasure channel', () => {
  it('fits PostgreSQL’s 63 bytes for a schema of any length, one channel per schema', async () => {
    const channelOf = (schemaName: string) =>
      new Protection({ schemaName } as Database, undefined).erasureChannel;
    expect(channelOf('pizzeria')).toBe('myelin_erasure_pizzeria');
    const [a, b] = [channelOf(`a${'x'.repeat(62)}`), channelOf(`b${'x'.repeat(62)}`)];
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    // NOTIFY refuses a longer name, which failed every erasure of such a schema.
    const database = postgresDatabase({ connectionString: postgresUrl, schema: testSchema() });
    try {
      await expect(database.query('SELECT pg_notify($1, $2)', [a, ''])).resolves.toBeDefined();
    } finally {
      await database.close();
    }
  });
});
