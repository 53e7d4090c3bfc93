import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engines, postgresUrl, testSchema } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import type { Sql } from './database.ts';
import { postgresDatabase } from './postgresDatabase.ts';

describe.each(engines)('transactions on $name', (engine) => {
  it('commit without waiting for the disk only when asked, and only for that transaction', async () => {
    const { database, drop } = await engine.open({ migrated: false });
    try {
      const setting = async (sql: Sql) =>
        (await sql.query<{ value: string }>("SELECT current_setting('synchronous_commit') AS value")).rows[0]
          ?.value;
      const inside = await database.transaction(setting, {
        synchronousCommit: false,
      });
      expect(inside).toBe('off');
      expect(await database.transaction(setting)).toBe('on');
      expect(await setting(database)).toBe('on');
      // A failing transaction rolls back as any other.
      await database.exec(`CREATE SCHEMA IF NOT EXISTS ${database.schema}`);
      await database.exec(`CREATE TABLE ${database.schema}.t (k text PRIMARY KEY)`);
      await expect(
        database.transaction(
          async (sql) => {
            await sql.query(`INSERT INTO ${database.schema}.t VALUES ('a')`);
            throw new Error('no');
          },
          { synchronousCommit: false },
        ),
      ).rejects.toThrow('no');
      expect((await database.query(`SELECT FROM ${database.schema}.t`)).rows).toHaveLength(0);
    } finally {
      await drop();
    }
  });
});

describe.each(engines)('errors on $name', (engine) => {
  it('carry the statement but never its parameters, which hold personal data', async () => {
    const { database, drop } = await engine.open({ migrated: false });
    try {
      const error = await database
        .query('SELECT $1::text, 1 / 0', ['Mario Rossi 555-0100'])
        .catch((e: unknown) => e);
      expect((error as Error).message).toBe('division by zero');
      // What a logger writes of an error: its own fields, then its message and stack.
      const logged = JSON.stringify({ ...(error as object), stack: (error as Error).stack });
      expect(logged).not.toContain('555-0100');
    } finally {
      await drop();
    }
  });
});

describe('a session shared by many users (every lease of a process lives on one)', () => {
  it('runs their statements one after the other: pg warns of nothing that pg 9 will refuse', async () => {
    const postgres = engines.find((engine) => engine.name === 'postgres');
    const { database, drop } = await (postgres as (typeof engines)[number]).open({ migrated: false });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    const session = await database.connect();
    try {
      const answers = await Promise.all([
        session.query<{ n: number }>('SELECT 1 AS n FROM pg_sleep(0.05)'),
        session.query<{ n: number }>('SELECT 2 AS n'),
        session.listen('myelin_test_channel', () => {}),
        session.query<{ n: number }>('SELECT 3 AS n'),
      ]);
      expect(answers.map((answer) => answer?.rows[0]?.n)).toEqual([1, 2, undefined, 3]);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.filter((message) => message.includes('pg@9'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await session.release();
      await drop();
    }
  });
});

describe('sessions on PostgreSQL', () => {
  it('go where sessionConnectionString says, while the pool goes where connectionString does', async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const url = (name: string) =>
      `${postgresUrl}${postgresUrl.includes('?') ? '&' : '?'}application_name=${name}`;
    const database = postgresDatabase({
      connectionString: url(`pool-${tag}`),
      sessionConnectionString: url(`session-${tag}`),
      schema: testSchema(),
    });
    try {
      const nameOf = async (sql: Sql) =>
        (await sql.query<{ name: string }>(`SELECT current_setting('application_name') AS name`)).rows[0]
          ?.name;
      expect(await nameOf(database)).toBe(`pool-${tag}`);
      expect(await database.transaction(nameOf)).toBe(`pool-${tag}`);
      const session = await database.connect();
      try {
        expect(await nameOf(session)).toBe(`session-${tag}`);
        // Notifications go out on a session of their own, at the same address.
        await database.notify(`myelin_test_${tag}`);
        const { rows } = await database.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
          [`session-${tag}`],
        );
        expect(rows[0]?.n).toBe(2);
      } finally {
        await session.release();
      }
    } finally {
      await database.close();
    }
  });
});

describe('the pool on PostgreSQL', () => {
  it('closes a connection left unused for idleConnectionMs, and by default keeps it past pg’s 10 s', {
    timeout: 30_000,
  }, async () => {
    expect(() => postgresDatabase({ idleConnectionMs: Number.POSITIVE_INFINITY })).toThrow(
      'idleConnectionMs must be a whole number of milliseconds from 0 to 2147483647: Infinity',
    );
    const brief = postgresDatabase({
      connectionString: postgresUrl,
      schema: testSchema(),
      idleConnectionMs: 500,
    });
    const kept = postgresDatabase({ connectionString: postgresUrl, schema: testSchema() });
    try {
      await brief.query('SELECT 1');
      expect(brief.pool?.open).toBe(1);
      await kept.query('SELECT 1');
      const released = performance.now();
      expect(kept.pool?.open).toBe(1);
      await eventually(
        () => brief.pool?.open === 0,
        () => brief.pool,
      );
      // What is tested is time passing: pg's own default would have closed it at 10 s.
      await new Promise((resolve) => setTimeout(resolve, 10_500 - (performance.now() - released)));
      expect(kept.pool).toMatchObject({ open: 1, idle: 1 });
    } finally {
      await Promise.all([brief.close(), kept.close()]);
    }
  });
});

describe('a session of its own (leases, a partition group’s member slot, erasures heard)', () => {
  /**
   * The same server and user as the tests', through its Unix socket (Debian's directory unless told), when the
   * server has one there (it does on this project's machines and CI's; a server elsewhere may not).
   */
  const overSocket = (() => {
    const url = new URL(postgresUrl);
    const directory = process.env.PGSOCKET_DIR ?? '/var/run/postgresql';
    if (!existsSync(join(directory, `.s.PGSQL.${url.port || 5432}`))) return [];
    return [`postgresql://${url.username}@/${url.pathname.slice(1)}?host=${encodeURIComponent(directory)}`];
  })();

  it('is ended by the server once idle for half the lease time, over TCP and a Unix socket alike', async () => {
    for (const connectionString of [postgresUrl, ...overSocket]) {
      const database = postgresDatabase({ connectionString, schema: testSchema(), leaseMs: 4000 });
      try {
        const session = await database.connect();
        try {
          const shown = async (sql: Sql) =>
            (await sql.query<{ value: string }>("SELECT current_setting('idle_session_timeout') AS value"))
              .rows[0]?.value;
          // A frozen process's session ends, and its locks with it, though no TCP timeout reaches it.
          expect(await shown(session), connectionString).toBe('2s');
          // Pooled connections idle between requests by design: the pool, not the server, closes them.
          expect(await shown(database), connectionString).toBe('0');
        } finally {
          await session.release();
        }
      } finally {
        await database.close();
      }
    }
  });
});
