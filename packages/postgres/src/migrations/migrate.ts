import type { Database } from '../database/database.ts';
import { type Migration, migrations as myelinMigrations } from './migrations.ts';

export interface MigrationReport {
  /** The versions this call applied, in order (empty when the schema was up to date). */
  readonly applied: readonly number[];
  /** The schema's version afterwards. */
  readonly version: number;
}

/**
 * Brings the schema up to date: creates it if needed and applies, in one transaction, every migration it lacks.
 * Safe to run from several processes at once: the first takes a transaction-scoped advisory lock on the schema's
 * name, the others wait for it and then find nothing left to do.
 */
export async function migrate(
  database: Database,
  migrations: readonly Migration[] = myelinMigrations,
): Promise<MigrationReport> {
  const s = database.schema;
  return database.transaction(async (sql) => {
    // A migration may build an index on a large table, and waits for another process's migration to finish:
    // the API's statement and lock timeouts are lifted for this transaction.
    if (database.engine === 'postgres') {
      await sql.exec('SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0', { timeoutMs: 0 });
    }
    await sql.query(
      'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
      [`myelin.migrate:${database.schemaName}`],
      { timeoutMs: 0 },
    );
    const unbounded = { timeoutMs: 0 };
    await sql.exec(
      `
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
    `,
      unbounded,
    );
    const { rows } = await sql.query<{ version: number }>(`SELECT version FROM ${s}.migrations`);
    const done = new Set(rows.map((row) => row.version));
    const applied: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(migration.version)) continue;
      await sql.exec(migration.sql(s), unbounded);
      await sql.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    return { applied, version: Math.max(0, ...done, ...applied) };
  });
}
