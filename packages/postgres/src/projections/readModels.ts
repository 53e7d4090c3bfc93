// The read models on PostgreSQL: documents in `read_documents` (one key per projection version), tables of their
// own per version behind a view; and, for SQL of your own over a table read model, `sqlOf`.
import type {
  DocumentReader,
  DocumentWriter,
  FindQuery,
  Page,
  Projection,
  TableReader,
  TableWriter,
} from '@myelin/core';
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

/** A documents writer whose writes wait for `flush`: what a projection batch (or a commit) applies at its end. */
export interface BufferedDocumentWriter<TDocument> extends DocumentWriter<TDocument> {
  /** Writes what the handlers left, in two statements at most: the documents put, and those deleted. */
  flush(): Promise<void>;
}

/**
 * Writes documents in a transaction, buffered: a document read once is kept, a write replaces what is kept, and
 * `flush` writes the last state of each one written. A batch of events touching a document twice costs one read
 * and its share of one write, where it cost a round trip per read and per write, each waiting its turn behind the
 * commands sharing the machine (the lag's tail). Documents are kept as JSON text, so that a handler changing an
 * object it got, without putting it, changes nothing, as with the database.
 */
export function documentWriter<TDocument>(
  sql: Sql,
  schema: string,
  model: string,
): BufferedDocumentWriter<TDocument> {
  /** By id: the document's JSON as the handlers left it (null: deleted or absent), and whether to write it. */
  const kept = new Map<string, { json: string | null; dirty: boolean }>();
  const parse = (json: string | null) => (json === null ? undefined : (JSON.parse(json) as TDocument));
  return {
    async get(id) {
      const known = kept.get(id);
      if (known !== undefined) return parse(known.json);
      const { rows } = await sql.query<{ doc: string }>(
        `SELECT doc::text AS doc FROM ${schema}.read_documents WHERE model = $1 AND id = $2`,
        [model, id],
        prepared,
      );
      const json = rows[0]?.doc ?? null;
      kept.set(id, { json, dirty: false });
      return parse(json);
    },
    async put(id, document) {
      kept.set(id, { json: JSON.stringify(document), dirty: true });
    },
    async update(id, change) {
      const current = await this.get(id);
      if (current === undefined) return false;
      await this.put(id, change(current));
      return true;
    },
    async delete(id) {
      kept.set(id, { json: null, dirty: true });
    },
    async flush() {
      const put: [string, string][] = [];
      const deleted: string[] = [];
      for (const [id, { json, dirty }] of kept) {
        if (!dirty) continue;
        if (json === null) deleted.push(id);
        else put.push([id, json]);
      }
      kept.clear();
      if (put.length > 0) {
        await sql.query(
          `INSERT INTO ${schema}.read_documents (model, id, doc)
           SELECT $1, id, doc::jsonb FROM unnest($2::text[], $3::text[]) AS d(id, doc)
           ON CONFLICT (model, id) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()`,
          [model, put.map(([id]) => id), put.map(([, json]) => json)],
          prepared,
        );
      }
      if (deleted.length > 0) {
        await sql.query(
          `DELETE FROM ${schema}.read_documents WHERE model = $1 AND id = ANY($2::text[])`,
          [model, deleted],
          prepared,
        );
      }
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

/** A table writer whose writes wait for `flush`: what a projection batch (or a commit) applies at its end. */
export interface BufferedTableWriter<TRow extends Record<string, unknown>> extends TableWriter<TRow> {
  /** Writes what the handlers left: a statement per kind of row written (by its columns) and size of chunk. */
  flush(): Promise<void>;
}

/** The sizes rows are sent in: few statement texts (each prepared once per connection), few statements per flush. */
const chunks = [64, 16, 4, 1] as const;

/**
 * Writes a table read model's rows in a transaction, buffered: an upsert or a delete waits for `flush`, which sends
 * each row's last state once, in a few multi-row statements, where each write was a round trip (a projection
 * batch of a hundred upserts: a hundred statements). A row read is kept until it is written. Reading a row with a
 * write pending sends that write first and reads the row back, so that a handler sees the row as the database
 * makes it (its defaults, its types), exactly as it did before writes were buffered. SQL of your own
 * (`sqlOf(writer).query`) flushes first, so it sees every write before it.
 */
export function tableWriter<TRow extends Record<string, unknown>>(
  sql: Sql,
  physical: string,
  key: readonly string[],
): BufferedTableWriter<TRow> {
  const keyColumns = key.map(quoteColumn);
  const where = keyColumns.map((c, i) => `${c} = $${i + 1}`).join(' AND ');
  const keyOf = (row: Record<string, unknown>) => key.map((column) => row[column]);
  // By key (see idOf): a write not sent yet, a delete first or not, then the columns upserted since (merged, the
  // later winning); and the rows read and not written since.
  let order = 0;
  const pending = new Map<string, Write>();
  const known = new Map<string, Record<string, unknown> | null>();

  async function send(writes: readonly Write[]) {
    // Two keys spelled apart that the database may take for one row ('ABC' and 'abc' of a citext or uuid key, '1'
    // and '1.0' of a numeric one) must not share a statement, nor be reordered: then every write goes on its own,
    // in the order it was first made, as before writes were buffered.
    const loose = new Set(writes.map((write) => looseIdOf(write.key)));
    if (loose.size < writes.length) {
      for (const write of [...writes].sort((a, b) => a.order - b.order)) await send([write]);
      return;
    }
    for (const write of writes) {
      if (write.deleted) await sql.query(`DELETE FROM ${physical} WHERE ${where}`, write.key, prepared);
    }
    // Rows with the same columns go together; each statement's rows have distinct keys (one entry per key above).
    const byColumns = new Map<string, Record<string, unknown>[]>();
    for (const { row } of writes) {
      if (row === undefined) continue;
      const columns = Object.keys(row).join(',');
      const rows = byColumns.get(columns);
      if (rows === undefined) byColumns.set(columns, [row]);
      else rows.push(row);
    }
    for (const [list, rows] of byColumns) {
      const columns = list.split(',');
      let sent = 0;
      for (const size of chunks) {
        for (; rows.length - sent >= size; sent += size) {
          await sql.query(
            upsertText(physical, columns, keyColumns, size),
            rows.slice(sent, sent + size).flatMap((row) => columns.map((column) => row[column])),
            prepared,
          );
        }
      }
    }
  }

  const writer: BufferedTableWriter<TRow> & { [sqlAccess]: TableSql } = {
    [sqlAccess]: {
      table: physical,
      query: async <TResult>(text: string, params?: readonly unknown[]) => {
        await writer.flush();
        known.clear(); // the statement may change any row: what was read before is read again
        return (await sql.query<TResult>(text, params)).rows;
      },
    },
    async get(row) {
      const values = keyOf(row);
      const id = idOf(values);
      const write = pending.get(id);
      if (write !== undefined) {
        if (write.row === undefined) return undefined; // deleted, and not written since
        pending.delete(id);
        await send([write]);
      } else {
        const stored = known.get(id);
        // A copy, deep: a handler changing what it got without upserting it changes nothing, as before.
        if (stored !== undefined) return stored === null ? undefined : (structuredClone(stored) as TRow);
      }
      const { rows } = await sql.query<TRow>(`SELECT * FROM ${physical} WHERE ${where}`, values, prepared);
      known.set(id, rows[0] ?? null);
      return rows[0] === undefined ? undefined : structuredClone(rows[0]);
    },
    async upsert(row) {
      const values = keyOf(row);
      for (const [i, value] of values.entries()) {
        if (value === undefined || value === null) {
          throw new TypeError(`A row upserted must give its key: '${key[i]}' is ${String(value)}`);
        }
      }
      const id = idOf(values);
      known.delete(id);
      const write = pending.get(id) ?? { key: values, deleted: false, order: order++ };
      const merged: Record<string, unknown> = { ...write.row };
      for (const column of Object.keys(row)) {
        if (row[column] !== undefined) merged[column] = row[column];
      }
      for (const column of Object.keys(merged)) quoteColumn(column); // a bad name fails here, not at the flush
      write.row = merged;
      pending.set(id, write);
    },
    async update(row, change) {
      const current = await this.get(row);
      if (current === undefined) return false;
      await this.upsert(change(current));
      return true;
    },
    async delete(row) {
      const values = keyOf(row);
      const id = idOf(values);
      known.delete(id);
      pending.set(id, { key: values, deleted: true, order: pending.get(id)?.order ?? order++ });
    },
    async flush() {
      const writes = [...pending.values()];
      pending.clear();
      await send(writes);
    },
  };
  return writer;
}

/** A row's write not sent yet: a delete first or not, the columns upserted since, and when it was first made. */
interface Write {
  readonly key: unknown[];
  deleted: boolean;
  row?: Record<string, unknown>;
  readonly order: number;
}

/**
 * A key's identity in the buffer: its values as the database compares most of them (1 and '1' name one row of an
 * integer key; a date to the millisecond; bytes by their hex). Keys it tells apart that the database might not are
 * caught by `looseIdOf`.
 */
function idOf(values: readonly unknown[]): string {
  return JSON.stringify(values.map(exactly));
}

function exactly(value: unknown): string {
  if (value instanceof Date) return `date:${value.toISOString()}`;
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'object' && value !== null) return `json:${JSON.stringify(value)}`;
  return String(value);
}

/** A key's identity as loosely as a database type might compare it: case and numeric spelling aside. */
function looseIdOf(values: readonly unknown[]): string {
  return JSON.stringify(
    values.map((value) => {
      if (typeof value !== 'string') return exactly(value);
      const number = value.trim() === '' ? Number.NaN : Number(value);
      return Number.isFinite(number) ? String(number) : value.toLowerCase();
    }),
  );
}

const upsertTexts = new Map<string, string>();

/** `INSERT … ON CONFLICT` of `size` rows of these columns, built once. */
function upsertText(
  physical: string,
  columns: readonly string[],
  keyColumns: readonly string[],
  size: number,
) {
  const cacheKey = `${physical}|${columns.join(',')}|${keyColumns.join(',')}|${size}`;
  let text = upsertTexts.get(cacheKey);
  if (text !== undefined) return text;
  const quoted = columns.map(quoteColumn);
  const updates = quoted.filter((column) => !keyColumns.includes(column));
  const rows = Array.from(
    { length: size },
    (_, r) => `(${columns.map((_, c) => `$${r * columns.length + c + 1}`).join(', ')})`,
  );
  text = `INSERT INTO ${physical} (${quoted.join(', ')}) VALUES ${rows.join(', ')}
    ON CONFLICT (${keyColumns.join(', ')}) DO ${
      updates.length === 0 ? 'NOTHING' : `UPDATE SET ${updates.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`
    }`;
  upsertTexts.set(cacheKey, text);
  return text;
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

/**
 * What an erasure hook writes one version of a read model with, in the erasure's transaction: the version's writer
 * (documents buffered until `flush`) and a search over that version alone.
 */
export function erasingModel(
  sql: Sql,
  schema: string,
  p: Projection,
  version: number,
): { find(query?: FindQuery<any>): Promise<Page<any>>; flush(): Promise<void> } & object {
  if (p.model.kind === 'documents') {
    const model = documentKey(p.name, version);
    const writer = documentWriter(sql, schema, model);
    return {
      ...writer,
      async find(query = {}) {
        const { rows, ...page } = await findJson<{ doc: unknown }>(
          sql,
          {
            table: `${schema}.read_documents`,
            column: 'doc',
            select: 'doc',
            scope: 'model = $1',
            scopeParams: [model],
            key: 'id',
          },
          query,
        );
        return { items: rows.map((row) => row.doc), ...page };
      },
    };
  }
  const physical = tableNames(schema, p.name, version);
  const writer = tableWriter(sql, physical, p.model.key);
  // The search flushes first: it sees what the hook wrote before it.
  const reader = tableReader(sql, physical, p.model.key, () => writer.flush());
  return { ...writer, find: reader.find };
}
