import { type FindQuery, type Page, type Token, token } from '@myelin/core';
import { prepared, type Sql } from '../database/database.ts';
import { findJson } from '../repositories/jsonQuery.ts';

/** A read model kept as JSON documents by id (in `read_documents`), searchable like a state-stored repository. */
export interface DocumentModel<TDocument> extends Token<DocumentReader<TDocument>> {
  readonly kind: 'documents';
  /** The read model's (and its projection's) name. */
  readonly modelName: string;
  /** @internal Compile-time only. */
  readonly document?: TDocument;
}

/** A read model kept in a table of its own, whose columns the projection defines. */
export interface TableModel<TRow extends Record<string, unknown>> extends Token<TableReader<TRow>> {
  readonly kind: 'table';
  readonly modelName: string;
  /** The column definitions, as in CREATE TABLE (`id text PRIMARY KEY, status text NOT NULL`). */
  readonly columns: string;
  /** The columns of the primary key, for upserts and deletes. */
  readonly key: readonly (keyof TRow & string)[];
  /** @internal Compile-time only. */
  readonly row?: TRow;
}

export type ReadModel = DocumentModel<any> | TableModel<any>;

const names = /^[a-z][a-z0-9_-]{0,40}$/;

function checkName(name: string): void {
  if (!names.test(name)) {
    throw new TypeError(
      `Invalid read model name '${name}': use lower-case letters, digits, '-' and '_', starting with a letter`,
    );
  }
}

/**
 * Declares a document read model. It is also the token query handlers depend on to read it.
 * @example export const OrderSummaries = documents<OrderSummary>('order-summaries');
 */
export function documents<TDocument>(name: string): DocumentModel<TDocument> {
  checkName(name);
  return Object.freeze({
    ...token<DocumentReader<TDocument>>(name),
    kind: 'documents' as const,
    modelName: name,
  });
}

/**
 * Declares a read model in a table of its own. Each version of its projection gets a table (`rm_<name>_v<n>`);
 * queries read the view `rm_<name>`, which points at the version serving.
 * @example export const KitchenQueue = table<QueueRow>('kitchen-queue', { columns: 'id text PRIMARY KEY, placed_at timestamptz', key: ['id'] });
 */
export function table<TRow extends Record<string, unknown>>(
  name: string,
  options: { readonly columns: string; readonly key: readonly (keyof TRow & string)[] },
): TableModel<TRow> {
  checkName(name);
  if (options.key.length === 0)
    throw new TypeError(`Table read model '${name}' needs at least one key column`);
  return Object.freeze({
    ...token<TableReader<TRow>>(name),
    kind: 'table' as const,
    modelName: name,
    columns: options.columns,
    key: options.key,
  });
}

/** The key of a version's documents in `read_documents`. */
export function documentKey(name: string, version: number): string {
  return `${name}@${version}`;
}

/** The table of a version of a table read model, and the view queries read. */
export function tableNames(schema: string, name: string, version?: number): string {
  const base = `rm_${name.replaceAll('-', '_')}`;
  return `${schema}."${version === undefined ? base : `${base}_v${version}`}"`;
}

/** What a projection's handlers write a document read model with, inside the batch's (or command's) transaction. */
export interface DocumentWriter<TDocument> {
  get(id: string): Promise<TDocument | undefined>;
  /** Creates or replaces the document. */
  put(id: string, document: TDocument): Promise<void>;
  /** Changes the document if it exists; false when it does not. */
  update(id: string, change: (document: TDocument) => TDocument): Promise<boolean>;
  delete(id: string): Promise<void>;
}

/** What a projection's handlers write a table read model with. */
export interface TableWriter<TRow extends Record<string, unknown>> {
  /** Inserts the row, or updates the row with its key. */
  upsert(row: TRow): Promise<void>;
  /** Deletes the row with this key. */
  delete(key: Pick<TRow, TableModel<TRow>['key'][number]>): Promise<void>;
  /** The table, qualified, for statements of your own through `sql`. */
  readonly table: string;
  readonly sql: Sql;
}

export type WriterOf<TModel> =
  TModel extends DocumentModel<infer D>
    ? DocumentWriter<D>
    : TModel extends TableModel<infer R>
      ? TableWriter<R>
      : never;

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

export function tableWriter<TRow extends Record<string, unknown>>(
  sql: Sql,
  physical: string,
  key: readonly string[],
): TableWriter<TRow> {
  const keyColumns = key.map(quoteColumn);
  return {
    table: physical,
    sql,
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
      );
    },
    async delete(where) {
      const values = key.map((column) => (where as Record<string, unknown>)[column]);
      await sql.query(
        `DELETE FROM ${physical} WHERE ${keyColumns.map((c, i) => `${c} = $${i + 1}`).join(' AND ')}`,
        values,
      );
    },
  };
}

/** How queries read a document read model. */
export interface DocumentReader<TDocument> {
  get(id: string): Promise<TDocument | undefined>;
  /** Documents whose top-level fields match, sorted and paged (as a state-stored repository's `find`). */
  find(query?: FindQuery<TDocument>): Promise<Page<TDocument>>;
}

/** How queries read a table read model: statements of your own on its view. */
export interface TableReader<TRow> {
  /** The view serving the read model, qualified: `SELECT * FROM ${reader.table} WHERE ...`. */
  readonly table: string;
  query<TResult = TRow>(text: string, params?: readonly unknown[]): Promise<TResult[]>;
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
