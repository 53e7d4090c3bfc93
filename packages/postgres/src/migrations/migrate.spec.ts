import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type Engine, engines, postgresUrl } from '../testing/databases.ts';
import { migrate } from './migrate.ts';
import { migrations } from './migrations.ts';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));
const latest = Math.max(...migrations.map((m) => m.version));

describe.each(engines)('migrations on $name', (engine) => {
  it("apply the user's own migrations in a sequence of their own, beside Myelin's, each once", async () => {
    const { database, drop } = await engine.open({ migrated: false });
    try {
      const own = [
        { version: 1, name: 'notes', sql: (s: string) => `CREATE TABLE ${s}.notes (id text PRIMARY KEY)` },
        { version: 2, name: 'titles', sql: (s: string) => `ALTER TABLE ${s}.notes ADD COLUMN title text` },
      ];
      // Version 1 is Myelin's and the user's too: the sequences keep them apart.
      expect(await migrate(database, { migrations: own })).toEqual({
        applied: migrations.map((m) => m.version),
        version: latest,
        own: { sequence: 'app', applied: [1, 2], version: 2 },
      });
      await database.query(`INSERT INTO ${database.schema}.notes (id, title) VALUES ('n', 't')`);
      const third = {
        version: 3,
        name: 'bodies',
        sql: (s: string) => `ALTER TABLE ${s}.notes ADD COLUMN body text`,
      };
      expect(await migrate(database, { migrations: [...own, third] })).toEqual({
        applied: [],
        version: latest,
        own: { sequence: 'app', applied: [3], version: 3 },
      });
      await expect(
        migrate(database, { migrations: [own[0] as (typeof own)[0], own[0] as (typeof own)[0]] }),
      ).rejects.toThrow("Two migrations of 'app' have version 1");
      await expect(migrate(database, { migrations: own, sequence: 'myelin' })).rejects.toThrow(
        "is Myelin's own",
      );
    } finally {
      await drop();
    }
  });

  it('keep a schema migrated before sequences existed: its versions become Myelin’s', async () => {
    const { database, drop } = await engine.open({ migrated: false });
    try {
      const s = database.schema;
      // The table as it was: the version alone as its key.
      await database.exec(`CREATE SCHEMA IF NOT EXISTS ${s};
        CREATE TABLE ${s}.migrations (version integer PRIMARY KEY, name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now())`);
      await migrate(database);
      const own = [{ version: 1, name: 'mine', sql: (s: string) => `CREATE TABLE ${s}.mine (id int)` }];
      expect((await migrate(database, { migrations: own })).own).toEqual({
        sequence: 'app',
        applied: [1],
        version: 1,
      });
      const { rows } = await database.query<{ sequence: string; n: number }>(
        `SELECT sequence, count(*)::int AS n FROM ${s}.migrations GROUP BY sequence ORDER BY sequence`,
      );
      expect(rows).toEqual([
        { sequence: 'app', n: 1 },
        { sequence: 'myelin', n: migrations.length },
      ]);
    } finally {
      await drop();
    }
  });

  it('apply once, then find nothing to do; concurrent runs in one process agree', async () => {
    const { database, drop } = await engine.open({ migrated: false });
    try {
      const [first, second] = await Promise.all([migrate(database), migrate(database)]);
      expect([first.applied, second.applied]).toContainEqual(migrations.map((m) => m.version));
      expect([first.applied, second.applied]).toContainEqual([]);
      expect(await migrate(database)).toEqual({ applied: [], version: latest });
      const { rows } = await database.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
        [database.schemaName],
      );
      expect(rows.map((r) => r.table_name)).toEqual([
        'documents',
        'erasures',
        'events',
        'held_events',
        'idempotency_keys',
        'inbox',
        'inline_marks',
        'migrations',
        'operator_actions',
        'personal_keys',
        'projections',
        'read_documents',
        'scheduled_messages',
        'snapshots',
        'streams',
        'subscriptions',
      ]);
    } finally {
      await drop();
    }
  });
});

describe('the migrate command', () => {
  it('runs from two processes at once against one PostgreSQL schema without error', async () => {
    const postgres = engines.find((engine) => engine.name === 'postgres') as Engine;
    const { database, drop } = await postgres.open({ migrated: false });
    try {
      const migrateProcess = () =>
        run(
          process.execPath,
          [
            '--conditions=@myelin/source',
            cli,
            'migrate',
            '--url',
            postgresUrl,
            '--schema',
            database.schemaName,
          ],
          { timeout: 60_000 },
        );
      const outputs = (await Promise.all([migrateProcess(), migrateProcess()]))
        .map((r) => r.stdout.trim())
        .sort();
      expect(outputs).toEqual([
        `Schema '${database.schemaName}' is up to date (version ${latest}).`,
        `Schema '${database.schemaName}': applied ${migrations.map((m) => m.version).join(', ')}; now at version ${latest}.`,
      ]);
    } finally {
      await drop();
    }
  });

  it("applies the user's migrations from a module given with --migrations, in their own sequence", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'myelin-migrations-'));
    const dataDir = join(dir, 'data');
    try {
      const module = join(dir, 'migrations.js');
      writeFileSync(
        module,
        `export const migrations = [
          { version: 1, name: 'notes', sql: (s) => \`CREATE TABLE \${s}.notes (id text PRIMARY KEY)\` },
        ];`,
      );
      const args = [
        '--conditions=@myelin/source',
        cli,
        'migrate',
        '--data-dir',
        dataDir,
        '--migrations',
        module,
      ];
      const first = await run(process.execPath, args, { timeout: 60_000 });
      expect(first.stdout).toContain("Your migrations ('app'): applied 1; now at version 1.");
      const again = await run(process.execPath, args, { timeout: 60_000 });
      expect(again.stdout).toContain("Your migrations ('app') are up to date (version 1).");
      const broken = join(dir, 'none.js');
      writeFileSync(broken, 'export const nothing = 1;');
      const refused = await run(process.execPath, [...args.slice(0, -1), broken]).catch((e) => e);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("exports no 'migrations' array");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what was wrong with a command line, then its usage, and exits 2', async () => {
    const usage = async (...args: string[]) => {
      const failure = await run(process.execPath, ['--conditions=@myelin/source', cli, ...args], {
        env: { ...process.env, DATABASE_URL: '' },
      }).catch((e) => e);
      expect(failure.code, args.join(' ')).toBe(2);
      expect(failure.stderr).toContain('Usage: myelin-postgres migrate');
      expect(failure.stderr).not.toContain('Migration failed');
      return (failure.stderr as string).split('\n')[0];
    };
    expect(await usage('migrat')).toBe("Unknown command 'migrat'.");
    expect(await usage()).toBe('Give a command: migrate.');
    expect(await usage('migrate', '--bogus')).toContain("Unknown option '--bogus'");
    expect(await usage('migrate', '--url')).toContain("'--url <value>' argument missing");
    expect(await usage('migrate', '--url', 'postgres://x', '--data-dir', 'd')).toBe(
      'Give --url or --data-dir, not both.',
    );
    expect(await usage('migrate', 'now')).toBe("Unexpected argument 'now'.");
  });
});
