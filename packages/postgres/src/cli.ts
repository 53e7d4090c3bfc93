#!/usr/bin/env node
// myelin-postgres migrate: applies Myelin's migrations to a PostgreSQL server or a PGlite data directory.
import { parseArgs } from 'node:util';
import type { Database } from './database/database.ts';
import { migrate } from './migrations/migrate.ts';

const usage = `Usage: myelin-postgres migrate [--url postgres://...] [--data-dir ./data] [--schema myelin]

  --url       a PostgreSQL server (default: DATABASE_URL)
  --data-dir  a PGlite data directory instead of a server
  --schema    the schema Myelin's tables live in (default: myelin)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      url: { type: 'string' },
      'data-dir': { type: 'string' },
      schema: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help === true || positionals[0] !== 'migrate' || positionals.length !== 1) {
    console.error(usage);
    return values.help === true ? 0 : 2;
  }
  const schema = values.schema === undefined ? {} : { schema: values.schema };
  const url = values.url ?? process.env.DATABASE_URL;
  if (values['data-dir'] === undefined && url === undefined) {
    console.error(`Give --url, --data-dir or DATABASE_URL.\n\n${usage}`);
    return 2;
  }
  // Each driver is loaded only when used: a user installs the one they need.
  const database: Database =
    values['data-dir'] !== undefined
      ? await (await import('./pglite.ts')).pgliteDatabase({ dataDir: values['data-dir'], ...schema })
      : (await import('./pg.ts')).postgresDatabase({ connectionString: url as string, max: 1, ...schema });
  try {
    const report = await migrate(database);
    console.log(
      report.applied.length === 0
        ? `Schema '${database.schemaName}' is up to date (version ${report.version}).`
        : `Schema '${database.schemaName}': applied ${report.applied.join(', ')}; now at version ${report.version}.`,
    );
    return 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`Migration failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
