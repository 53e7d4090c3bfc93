import type { FindQuery } from '@myelin/core';
import type { Sql } from '../database/database.ts';

/** Where a search runs: a table, the JSONB column searched, and a condition on the rows in scope. */
export interface JsonSource {
  /** The qualified table. */
  readonly table: string;
  /** The JSONB column whose top-level fields `where` and `sort` name. */
  readonly column: string;
  /** The columns returned. */
  readonly select: string;
  /** The rows in scope (`collection = $1`), with its parameters ($1...). */
  readonly scope: string;
  readonly scopeParams: readonly unknown[];
  /** The unique key, last in the order so that pages are stable. */
  readonly key: string;
}

/**
 * One page of the rows whose JSON fields match `where` (equality, or `{ in: [...] }`), sorted by fields with
 * missing ones first ascending and last descending (as the in-memory repositories sort them), and their total.
 * Field names are parameters, never SQL: any string is safe.
 */
export async function findJson<TRow>(
  sql: Sql,
  source: JsonSource,
  query: FindQuery<any>,
): Promise<{ rows: TRow[]; total: number; page: number; pageSize: number }> {
  const page = query.page ?? 1;
  const pageSize = query.pageSize ?? 50;
  if (!Number.isInteger(page) || page < 1)
    throw new RangeError(`page must be a positive integer, not ${page}`);
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`pageSize must be a positive integer, not ${pageSize}`);
  }
  const { column } = source;
  const params: unknown[] = [...source.scopeParams];
  const conditions = [source.scope];
  for (const [field, condition] of Object.entries(query.where ?? {})) {
    if (condition === undefined) continue;
    params.push(field);
    const fieldParam = params.length;
    if (typeof condition === 'object' && condition !== null && 'in' in condition) {
      params.push(JSON.stringify((condition as { in: readonly unknown[] }).in));
      conditions.push(
        `${column} -> $${fieldParam} IN (SELECT jsonb_array_elements($${params.length}::text::jsonb))`,
      );
    } else {
      params.push(JSON.stringify(condition));
      conditions.push(`${column} -> $${fieldParam} = $${params.length}::text::jsonb`);
    }
  }
  const where = conditions.join(' AND ');
  const order = (query.sort ?? []).map(({ field, direction }) => {
    params.push(field);
    return `${column} -> $${params.length} ${direction === 'desc' ? 'DESC NULLS LAST' : 'ASC NULLS FIRST'}`;
  });
  // One statement, so the total and the page come from one snapshot: two statements could see a commit land
  // between them and answer a page that disagrees with its total. The count row always comes back; the page is
  // joined to it, so a page past the end is one row with no `__hit`.
  const { rows: found } = await sql.query<TRow & { __total: number; __hit: boolean | null }>(
    `SELECT counted.__total, page.* FROM
       (SELECT count(*)::int AS __total FROM ${source.table} WHERE ${where}) counted
     LEFT JOIN LATERAL
       (SELECT ${source.select}, true AS __hit FROM ${source.table} WHERE ${where}
        ORDER BY ${[...order, source.key].join(', ')} LIMIT $${params.length + 1} OFFSET $${params.length + 2}) page
     ON true`,
    [...params, pageSize, (page - 1) * pageSize],
  );
  const total = found[0]?.__total ?? 0;
  const rows = found
    .filter((row) => row.__hit === true)
    .map(({ __total, __hit, ...row }) => row as unknown as TRow);
  return { rows, total, page, pageSize };
}
