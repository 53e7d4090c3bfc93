// Read models: what projections write and queries read. Declared here, stored by an adapter (in memory,
// PostgreSQL), so that handlers and their tests never name a database.
import { type Token, token } from '../dependencyInjection/token.ts';
import type { FindQuery, Page } from '../persistence/repository.ts';

/** A read model kept as JSON documents by id, searchable like a state-stored repository. */
export interface DocumentModel<TDocument> extends Token<DocumentReader<TDocument>> {
  readonly kind: 'documents';
  /** The read model's (and its projection's) name. */
  readonly modelName: string;
  /** @internal Compile-time only. */
  readonly document?: TDocument;
}

/**
 * A read model kept as rows with a key. A SQL adapter gives it a table of its own (with the columns declared),
 * which statements of your own can aggregate over; in memory it is rows by key.
 */
export interface TableModel<TRow extends Record<string, unknown>, TKey extends keyof TRow & string = any>
  extends Token<TableReader<TRow, TKey>> {
  readonly kind: 'table';
  readonly modelName: string;
  /** The column definitions, as in CREATE TABLE (`id text PRIMARY KEY, status text NOT NULL`). */
  readonly columns: string;
  /** The columns of the key: upserts, gets and deletes name a row by them. */
  readonly key: readonly TKey[];
  /** @internal Compile-time only. */
  readonly row?: TRow;
}

export type ReadModel = DocumentModel<any> | TableModel<any, any>;

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
 * Declares a read model of rows with a key. On PostgreSQL each version of its projection gets a table
 * (`rm_<name>_v<n>`) and queries read the view `rm_<name>`, which points at the version serving.
 * @example
 * export const KitchenQueue = table<QueueRow, 'id'>('kitchen-queue', {
 *   columns: 'id text PRIMARY KEY, placed_at timestamptz',
 *   key: ['id'],
 * });
 */
export function table<
  TRow extends Record<string, unknown>,
  TKey extends keyof TRow & string = keyof TRow & string,
>(
  name: string,
  options: { readonly columns: string; readonly key: readonly TKey[] },
): TableModel<TRow, TKey> {
  checkName(name);
  if (options.key.length === 0)
    throw new TypeError(`Table read model '${name}' needs at least one key column`);
  return Object.freeze({
    ...token<TableReader<TRow, TKey>>(name),
    kind: 'table' as const,
    modelName: name,
    columns: options.columns,
    key: [...options.key],
  });
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
export interface TableWriter<TRow extends Record<string, unknown>, TKey extends keyof TRow & string = any> {
  get(key: Pick<TRow, TKey>): Promise<TRow | undefined>;
  /** Inserts the row, or replaces the row with its key (columns it leaves out keep their values). */
  upsert(row: TRow): Promise<void>;
  /** Changes the row if it exists; false when it does not. */
  update(key: Pick<TRow, TKey>, change: (row: TRow) => TRow): Promise<boolean>;
  delete(key: Pick<TRow, TKey>): Promise<void>;
}

export type WriterOf<TModel> =
  TModel extends DocumentModel<infer D>
    ? DocumentWriter<D>
    : TModel extends TableModel<infer R, infer K>
      ? TableWriter<R, K>
      : never;

/** How queries read a document read model. */
export interface DocumentReader<TDocument> {
  get(id: string): Promise<TDocument | undefined>;
  /** Documents whose top-level fields match, sorted and paged (as a state-stored repository's `find`). */
  find(query?: FindQuery<TDocument>): Promise<Page<TDocument>>;
}

/** How queries read a table read model. */
export interface TableReader<TRow, TKey extends keyof TRow & string = any> {
  get(key: Pick<TRow, TKey>): Promise<TRow | undefined>;
  /** Rows whose columns match, sorted and paged. */
  find(query?: FindQuery<TRow>): Promise<Page<TRow>>;
}
