import type { Database, Sql } from '../database/database.ts';
import { type Migration, migrations as myelinMigrations } from './migrations.ts';

export interface MigrationReport {
  /** The versions of Myelin's migrations this call applied, in order (empty when the schema was up to date). */
  readonly applied: readonly number[];
  /** The version of Myelin's tables afterwards. */
  readonly version: number;
  /** Your migrations (`MigrateOptions.migrations`): what this call applied of them, and their version after. */
  readonly own?: { readonly sequence: string; readonly applied: readonly number[]; readonly version: number };
}

export interface MigrateOptions {
  /**
   * Your own migrations, numbered 1, 2, … in a sequence of their own (Myelin's numbers never collide with yours),
   * applied after Myelin's in the same transaction, each once, in version order.
   */
  readonly migrations?: readonly Migration[];
  /** The name of your sequence; defaults to `app`. Several sequences may share a schema. */
  readonly sequence?: string;
}

/** Myelin's own sequence of migrations. */
const myelinSequence = 'myelin';

/**
 * Brings the schema up to date: creates it if needed and applies, in one transaction, every migration it lacks.
 * Safe to run from several processes at once: the first takes a transaction-scoped advisory lock on the schema's
 * name, the others wait for it and then find nothing left to do.
 */
export async function migrate(database: Database, options: MigrateOptions = {}): Promise<MigrationReport> {
  const s = database.schema;
  const sequence = options.sequence ?? 'app';
  if (sequence === myelinSequence)
    throw new TypeError(`The sequence name '${myelinSequence}' is Myelin's own`);
  checkVersions(options.migrations ?? [], sequence);
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
        sequence text NOT NULL DEFAULT '${myelinSequence}',
        version integer NOT NULL,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (sequence, version)
      );
      -- A schema migrated before sequences existed holds Myelin's versions only: they become its sequence.
      ALTER TABLE ${s}.migrations ADD COLUMN IF NOT EXISTS sequence text NOT NULL DEFAULT '${myelinSequence}';
    `,
      unbounded,
    );
    await rekey(sql, database.schemaName, s);
    const mine = await apply(sql, s, myelinSequence, myelinMigrations);
    const own =
      options.migrations === undefined ? undefined : await apply(sql, s, sequence, options.migrations);
    return {
      ...mine,
      ...(own === undefined ? {} : { own: { sequence, ...own } }),
    };
  });
}

/** The table's key was the version alone: it becomes (sequence, version), once. */
async function rekey(sql: Sql, schemaName: string, s: string): Promise<void> {
  const { rows } = await sql.query<{ columns: number }>(
    `SELECT array_length(c.conkey, 1) AS columns FROM pg_constraint c
     JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = $1 AND t.relname = 'migrations' AND c.contype = 'p'`,
    [schemaName],
  );
  if (rows[0]?.columns !== 1) return;
  await sql.exec(
    `ALTER TABLE ${s}.migrations DROP CONSTRAINT migrations_pkey;
     ALTER TABLE ${s}.migrations ADD PRIMARY KEY (sequence, version);`,
    { timeoutMs: 0 },
  );
}

/** Applies the migrations of one sequence that the schema lacks, in version order. */
async function apply(
  sql: Sql,
  s: string,
  sequence: string,
  migrations: readonly Migration[],
): Promise<{ applied: number[]; version: number }> {
  const { rows } = await sql.query<{ version: number }>(
    `SELECT version FROM ${s}.migrations WHERE sequence = $1`,
    [sequence],
  );
  const done = new Set(rows.map((row) => row.version));
  const applied: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(migration.version)) continue;
    await sql.exec(migration.sql(s), { timeoutMs: 0 });
    await sql.query(`INSERT INTO ${s}.migrations (sequence, version, name) VALUES ($1, $2, $3)`, [
      sequence,
      migration.version,
      migration.name,
    ]);
    applied.push(migration.version);
  }
  return { applied, version: Math.max(0, ...done, ...applied) };
}

function checkVersions(migrations: readonly Migration[], sequence: string): void {
  const seen = new Set<number>();
  for (const migration of migrations) {
    if (!Number.isInteger(migration.version) || migration.version < 1) {
      throw new TypeError(
        `Migration '${migration.name}' of '${sequence}' needs a whole version of 1 or more`,
      );
    }
    if (seen.has(migration.version)) {
      throw new TypeError(`Two migrations of '${sequence}' have version ${migration.version}`);
    }
    seen.add(migration.version);
  }
}
