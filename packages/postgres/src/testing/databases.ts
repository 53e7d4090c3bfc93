// Test support (not published): the two engines every persistence test runs on.
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Database } from '../database/database.ts';
import { pgliteDatabase } from '../database/pgliteDatabase.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { migrate } from '../migrations/migrate.ts';

export const postgresUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface Engine {
  readonly name: 'pglite' | 'postgres';
  /** A migrated database in a schema of its own; `drop` removes the schema (PostgreSQL) and closes it. */
  open(options?: { readonly migrated?: boolean; readonly max?: number }): Promise<TestDatabase>;
}

export interface TestDatabase {
  readonly database: Database;
  drop(): Promise<void>;
}

/** A schema name no other test file uses, so files can run in parallel on one server. */
export function testSchema(): string {
  return `test_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

let shared: Promise<PGlite> | undefined;

/**
 * One in-memory PGlite for every test database of this process (a test file's worker), each in a schema of its
 * own. Starting PGlite compiles PostgreSQL's WebAssembly and runs initdb: one to three seconds of CPU, which on a
 * busy machine pushed hooks that opened one per test past their timeout. A schema costs milliseconds.
 */
export function sharedPglite(): Promise<PGlite> {
  shared ??= PGlite.create();
  return shared;
}

/**
 * Fails, loudly, when the PostgreSQL server is not reachable: tests never skip a real service silently.
 * The machine's notes say how to start it.
 */
async function requirePostgres(): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${postgresUrl} (set DATABASE_URL to use another server): ${String(error)}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

export const engines: readonly Engine[] = [
  {
    name: 'pglite',
    async open(options = {}) {
      const database = await pgliteDatabase({ pglite: await sharedPglite(), schema: testSchema() });
      if (options.migrated !== false) await migrate(database);
      return {
        database,
        async drop() {
          await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
          await database.close(); // leaves the shared PGlite open for the file's other tests
        },
      };
    },
  },
  {
    name: 'postgres',
    async open(options = {}) {
      await requirePostgres();
      const database = postgresDatabase({
        connectionString: postgresUrl,
        schema: testSchema(),
        max: options.max ?? 10,
      });
      if (options.migrated !== false) await migrate(database);
      return {
        database,
        async drop() {
          await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
          await database.close();
        },
      };
    },
  },
];
