import { execFile } from 'node:child_process';
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
        'events',
        'held_events',
        'idempotency_keys',
        'inbox',
        'inline_marks',
        'migrations',
        'projections',
        'read_documents',
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
