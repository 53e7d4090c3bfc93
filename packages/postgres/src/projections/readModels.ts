// The read models on PostgreSQL: documents in `read_documents` (one key per projection version), tables of their
// own per version behind a view; and, for SQL of your own over a table read model, `sqlOf`.
import type { DocumentReader, DocumentWriter, TableReader, TableWriter } from '@myelin/core';
import { prepared, type Sql } from '../database/database.ts';
import { findJson } from '../repositories/jsonQuery.ts';

/** The key of a version's documents in `read_documents`. */
export function documentKey(name: string, version: number): string {
  return `${name}@${version}`;
}

/** The table of a version of a table read model, and the view queries read. */
export function tableNames(schema: string, name: string, version?: number): string {
  const base = `rm_${name.replaceAll('-', '_')}`;
  return `${schema}."${version === undefined ? base : `${base}_v${version}`}"`;
}

export function documentWriter<TDocument>(
  sql: Sql,
  schema: string,
  model: string,
): DocumentWriter<TDocument> {
  return {
    async get(id) {
      const { rows } = await sql.query<{ doc: TDocument }>(
        `SELECT doc FROM ${schema}.read_documents WHERE model = $1 AND id = $2`,
        [model, id],
      );
      return rows[0]?.doc;
    },
    async put(id, document) {
      await sql.query(
        `INSERT INTO ${schema}.read_documents (model, id, doc) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (model, id) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()`,
        [model, id, JSON.stringify(document)],
      );
    },
    async update(id, change) {
      const current = await this.get(id);
      if (current === undefined) return false;
      await this.put(id, change(current));
      return true;
    },
    async delete(id) {
      await sql.query(`DELETE FROM ${schema}.read_documents WHERE model = $1 AND id = $2`, [model, id]);
    },
  };
}

const columnName = /^[a-z_][a-z0-9_]{0,62}$/;

function quoteColumn(name: string): string {
  if (!columnName.test(name)) throw new TypeError(`Invalid column name '${name}'`);
  return `"${name}"`;
}

/** SQL of your own over a table read model: its table (qualified) and statements run where the model is. */
export interface TableSql {
  /** The table (for a projection's writer: this version's; for a query's reader: the view serving). */
  readonly table: string;
  query<TResult = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<TResult[]>;
}

const sqlAccess = Symbol('myelin.tableSql');

/**
 * The SQL of a table read model on PostgreSQL, for what rows by key cannot say (aggregates, joins). A projection's
 * writer runs it in the batch's (or command's) transaction; a query's reader on the view serving, after waiting
 * to read its writes. Code using it runs on PostgreSQL and PGlite only.
 * @example const [{ n }] = await sqlOf(stats).query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sqlOf(stats).table}`);
 */
export function sqlOf(model: TableReader<any, any> | TableWriter<any, any>): TableSql {
  const access = (model as { [sqlAccess]?: TableSql })[sqlAccess];
  if (access === undefined) {
    throw new TypeError(
      'sqlOf() takes a table read model stored by @myelin/postgres; this one is stored elsewhere',
    );
  }
  return access;
}

export function tableWriter<TRow extends Record<string, unknown>>(
  sql: Sql,
  physical: string,
  key: readonly string[],
): TableWriter<TRow> {
  const keyColumns = key.map(quoteColumn);
  const where = keyColumns.map((c, i) => `${c} = $${i + 1}`).join(' AND ');
  const keyOf = (row: Record<string, unknown>) => key.map((column) => row[column]);
  const writer: TableWriter<TRow> & { [sqlAccess]: TableSql } = {
    [sqlAccess]: {
      table: physical,
      query: async <TResult>(text: string, params?: readonly unknown[]) =>
        (await sql.query<TResult>(text, params)).rows,
    },
    async get(row) {
      const { rows } = await sql.query<TRow>(`SELECT * FROM ${physical} WHERE ${where}`, keyOf(row), prepared);
      return rows[0];
    },
    async upsert(row) {
      const columns = Object.keys(row).filter((column) => row[column] !== undefined);
      const quoted = columns.map(quoteColumn);
      const updates = quoted.filter((column) => !keyColumns.includes(column));
      await sql.query(
        `INSERT INTO ${physical} (${quoted.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})
         ON CONFLICT (${keyColumns.join(', ')}) DO ${
           updates.length === 0
             ? 'NOTHING'
             : `UPDATE SET ${updates.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`
         }`,
        columns.map((column) => row[column]),
        prepared, // one text per set of columns written: a handful per table
      );
    },
    async update(row, change) {
      const current = await this.get(row);
      if (current === undefined) return false;
      await this.upsert(change(current));
      return true;
    },
    async delete(row) {
      await sql.query(`DELETE FROM ${physical} WHERE ${where}`, keyOf(row), prepared);
    },
  };
  return writer;
}

/** How queries read a table read model: rows of the view serving it, by key or searched. */
export function tableReader<TRow extends Record<string, unknown>>(
  sql: Sql,
  view: string,
  key: readonly string[],
  ready: () => Promise<void>,
): TableReader<TRow> {
  const keyColumns = key.map(quoteColumn);
  const where = keyColumns.map((c, i) => `${c} = $${i + 1}`).join(' AND ');
  const reader: TableReader<TRow> & { [sqlAccess]: TableSql } = {
    [sqlAccess]: {
      table: view,
      async query<TResult>(text: string, params?: readonly unknown[]) {
        await ready();
        return (await sql.query<TResult>(text, params)).rows;
      },
    },
    async get(row) {
      await ready();
      const values = key.map((column) => (row as Record<string, unknown>)[column]);
      const { rows } = await sql.query<TRow>(`SELECT * FROM ${view} WHERE ${where}`, values);
      return rows[0];
    },
    async find(query = {}) {
      await ready();
      const { rows, ...page } = await findJson<TRow>(
        sql,
        {
          table: `${view} t`,
          column: 'to_jsonb(t)',
          select: 't.*',
          scope: 'true',
          scopeParams: [],
          key: keyColumns.map((c) => `t.${c}`).join(', '),
        },
        query,
      );
      return { items: rows, ...page };
    },
  };
  return reader;
}

/** The document key of the version serving a document read model: the active one, else the newest building. */
export function servingModel(schema: string, param: string): string {
  return `(SELECT name || '@' || version FROM ${schema}.projections WHERE name = ${param} AND status <> 'retired'
    ORDER BY status = 'active' DESC, version DESC LIMIT 1)`;
}

export function documentReader<TDocument>(
  sql: Sql,
  schema: string,
  name: string,
  ready: () => Promise<void>,
): DocumentReader<TDocument> {
  const model = servingModel(schema, '$1');
  const getDocument = `SELECT doc FROM ${schema}.read_documents WHERE model = ${model} AND id = $2`;
  return {
    async get(id) {
      await ready();
      // Prepared: a read of one document is what a query route does most, and planning it (with its subquery) on
      // every call cost PostgreSQL 93 µs a read, against 39 µs prepared.
      const { rows } = await sql.query<{ doc: TDocument }>(getDocument, [name, id], prepared);
      return rows[0]?.doc;
    },
    async find(query = {}) {
      await ready();
      const { rows, ...page } = await findJson<{ doc: TDocument }>(
        sql,
        {
          table: `${schema}.read_documents`,
          column: 'doc',
          select: 'doc',
          scope: `model = ${model}`,
          scopeParams: [name],
          key: 'id',
        },
        query,
      );
      return { items: rows.map((row) => row.doc), ...page };
    },
  };
}
