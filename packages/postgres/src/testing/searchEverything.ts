// Test support (not published): where a string is stored in a schema, in any column of any table, as a row's text.
import type { Database } from '../database/database.ts';

/** Each table of the database's schema with rows whose text (every column, JSON included) contains `needle`. */
export async function rowsContaining(
  database: Database,
  needle: string,
): Promise<{ readonly table: string; readonly rows: number }[]> {
  const { rows: tables } = await database.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
     WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    [database.schemaName],
  );
  const hits: { table: string; rows: number }[] = [];
  for (const { name } of tables) {
    const { rows } = await database.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${database.schema}."${name.replaceAll('"', '""')}" t
       WHERE strpos(t::text, $1) > 0`,
      [needle],
    );
    const n = rows[0]?.n ?? 0;
    if (n > 0) hits.push({ table: name, rows: n });
  }
  return hits;
}
