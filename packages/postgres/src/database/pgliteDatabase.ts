import { PGlite } from '@electric-sql/pglite';
import { type Connection, type Database, defaultSchema, quoteSchema, type Sql } from './database.ts';
import { lockDirectory } from './directoryLock.ts';

export interface PgliteDatabaseOptions {
  /**
   * Where the database's files live; in memory when absent (or `memory://`). The directory is this process's
   * alone while open: another process opening it gets a `DirectoryLockedError` naming the holder.
   */
  readonly dataDir?: string;
  /** Use this PGlite instance instead of opening one (then `close` leaves it open: its owner closes it). */
  readonly pglite?: PgliteInstance;
  /** The schema Myelin's tables live in; defaults to `myelin`. */
  readonly schema?: string;
}

interface PgliteLike {
  query<TRow>(text: string, params?: unknown[]): Promise<{ rows: TRow[]; affectedRows?: number }>;
  exec(text: string): Promise<unknown>;
}

/**
 * What Myelin uses of a PGlite instance (a `PGlite` is one). Structural, so that Myelin's declarations do not load
 * PGlite's own, which need the DOM's and Emscripten's types in a project that checks its libraries.
 */
export interface PgliteInstance extends PgliteLike {
  transaction<T>(work: (tx: PgliteLike) => Promise<T>): Promise<T>;
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
  readonly closed: boolean;
}

/**
 * Myelin's tables in PGlite: PostgreSQL compiled to WebAssembly, running in this process. The embedded default:
 * nothing to install or start, and the same SQL as on a server. It has one connection, so transactions run one at
 * a time; the unit of work keeps them short by writing only at commit.
 * @example const db = await pgliteDatabase({ dataDir: './data' });
 */
export async function pgliteDatabase(options: PgliteDatabaseOptions = {}): Promise<Database> {
  const schemaName = options.schema ?? defaultSchema;
  const schema = quoteSchema(schemaName);
  const owned = options.pglite === undefined;
  const onDisk =
    owned && options.dataDir !== undefined && !options.dataDir.includes('://') && options.dataDir !== '';
  const unlock = onDisk ? lockDirectory(options.dataDir as string) : () => {};
  let pglite: PgliteInstance;
  try {
    pglite = options.pglite ?? (await PGlite.create(options.dataDir));
  } catch (error) {
    unlock();
    throw error;
  }

  const on = (client: PgliteLike): Sql => ({
    async query<TRow>(text: string, params?: readonly unknown[]) {
      try {
        const result = await client.query<TRow>(text, params as unknown[] | undefined);
        return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
      } catch (error) {
        throw withoutParameters(error);
      }
    },
    async exec(text: string) {
      await client.exec(text);
    },
  });

  const database: Database = {
    engine: 'pglite',
    schemaName,
    schema,
    ...on(pglite),
    transaction: (work, options = {}) =>
      pglite.transaction(async (tx) => {
        if (options.synchronousCommit === false) await tx.exec('SET LOCAL synchronous_commit = off');
        return work(on(tx));
      }),
    async connect(): Promise<Connection> {
      const unlisten: (() => Promise<void>)[] = [];
      let released = false;
      let end: (error: Error | undefined) => void = () => {};
      const ended = new Promise<Error | undefined>((resolve) => (end = resolve));
      return {
        ...on(pglite),
        async listen(channel, onNotify) {
          unlisten.push(await pglite.listen(channel, onNotify));
        },
        ended,
        // In process: no network between this side and the engine, nothing to lose but the release.
        get alive() {
          return !released;
        },
        async release() {
          released = true;
          for (const stop of unlisten.splice(0)) await stop().catch(() => {});
          end(undefined);
        },
      };
    },
    async notify() {
      // One process: its readers are woken in process.
    },
    async close() {
      if (owned && !pglite.closed) await pglite.close();
      unlock();
    },
    [Symbol.asyncDispose]: () => database.close(),
  };
  return database;
}

/**
 * PGlite's errors carry the statement's parameters, which are an event's or a customer's data (names, phones):
 * logged as they are, they would copy personal data into every log line. The statement's text stays.
 */
function withoutParameters(error: unknown): unknown {
  if (error instanceof Error) {
    for (const field of ['params', 'queryOptions']) {
      if (field in error) Reflect.deleteProperty(error, field);
    }
  }
  return error;
}
