#!/usr/bin/env node
// myelin-postgres migrate: applies Myelin's migrations to a PostgreSQL server or a PGlite data directory.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Database } from './database/database.ts';
import { migrate } from './migrations/migrate.ts';
import type { Migration } from './migrations/migrations.ts';

const usage = `Usage: myelin-postgres migrate [--url postgres://...] [--data-dir ./data] [--schema myelin]
                               [--migrations ./migrations.js] [--sequence app]

  --url         a PostgreSQL server (default: DATABASE_URL)
  --data-dir    a PGlite data directory instead of a server
  --schema      the schema Myelin's tables live in (default: myelin)
  --migrations  a module exporting your own migrations (\`export const migrations = [...]\`), applied after
                Myelin's in a sequence of their own
  --sequence    the name of that sequence (default: app)`;

/** A command line that cannot work: said as what was wrong, then the usage, with exit code 2. */
class UsageError extends Error {}

function parse() {
  try {
    return parseArgs({
      options: {
        url: { type: 'string' },
        'data-dir': { type: 'string' },
        schema: { type: 'string' },
        migrations: { type: 'string' },
        sequence: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    // node:util's words: "Unknown option '--bogus'", "Option '--url <value>' argument missing".
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parse();
  if (values.help === true) {
    console.log(usage);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('Give a command: migrate');
  if (positionals[0] !== 'migrate') throw new UsageError(`Unknown command '${positionals[0]}'`);
  if (positionals.length > 1) throw new UsageError(`Unexpected argument '${positionals[1]}'`);
  if (values.url !== undefined && values['data-dir'] !== undefined) {
    throw new UsageError('Give --url or --data-dir, not both');
  }
  const schema = values.schema === undefined ? {} : { schema: values.schema };
  const url = values.url ?? (process.env.DATABASE_URL || undefined);
  if (values['data-dir'] === undefined && url === undefined) {
    throw new UsageError('Give --url, --data-dir or DATABASE_URL');
  }
  const own = values.migrations === undefined ? undefined : await ownMigrations(values.migrations);
  // Each driver is loaded only when used: a user installs the one they need.
  const database: Database =
    values['data-dir'] !== undefined
      ? await (await import('./pglite.ts')).pgliteDatabase({ dataDir: values['data-dir'], ...schema })
      : (await import('./pg.ts')).postgresDatabase({ connectionString: url as string, max: 1, ...schema });
  try {
    const report = await migrate(database, {
      ...(own === undefined ? {} : { migrations: own }),
      ...(values.sequence === undefined ? {} : { sequence: values.sequence }),
    });
    console.log(
      report.applied.length === 0
        ? `Schema '${database.schemaName}' is up to date (version ${report.version}).`
        : `Schema '${database.schemaName}': applied ${report.applied.join(', ')}; now at version ${report.version}.`,
    );
    if (report.own !== undefined) {
      console.log(
        report.own.applied.length === 0
          ? `Your migrations ('${report.own.sequence}') are up to date (version ${report.own.version}).`
          : `Your migrations ('${report.own.sequence}'): applied ${report.own.applied.join(', ')}; now at version ${report.own.version}.`,
      );
    }
    return 0;
  } finally {
    await database.close();
  }
}

/** The `migrations` (or default) export of the user's module. */
async function ownMigrations(file: string): Promise<Migration[]> {
  let module: { migrations?: unknown; default?: unknown };
  try {
    module = await import(pathToFileURL(resolve(file)).href);
  } catch (error) {
    throw new UsageError(
      `Cannot load --migrations ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const list = module.migrations ?? module.default;
  if (!Array.isArray(list)) {
    throw new UsageError(`--migrations ${file} exports no 'migrations' array (nor a default one)`);
  }
  return list as Migration[];
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`${error.message}.\n\n${usage}`);
      process.exitCode = 2;
      return;
    }
    console.error(`Migration failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
