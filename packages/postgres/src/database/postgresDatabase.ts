import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  type Connection,
  type Database,
  defaultSchema,
  type QueryOptions,
  quoteSchema,
  type Sql,
  type TransactionOptions,
} from './database.ts';

export interface PostgresDatabaseOptions {
  /** `postgres://user@host:5432/database`. Defaults to `DATABASE_URL`, then pg's own environment variables. */
  readonly connectionString?: string;
  /** Use this pool instead of opening one (then `close` leaves it open: its owner closes it). */
  readonly pool?: pg.Pool;
  /** The schema Myelin's tables live in; defaults to `myelin`. */
  readonly schema?: string;
  /** The most connections the pool opens; defaults to 10. */
  readonly max?: number;
}

/**
 * Myelin's tables on a PostgreSQL server, through a `pg` connection pool.
 * @example const db = postgresDatabase({ connectionString: process.env.DATABASE_URL, schema: 'orders' });
 */
export function postgresDatabase(options: PostgresDatabaseOptions = {}): Database {
  const schemaName = options.schema ?? defaultSchema;
  const schema = quoteSchema(schemaName);
  const owned = options.pool === undefined;
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString ?? process.env.DATABASE_URL,
      max: options.max ?? 10,
    });
  // A connection that breaks while idle in the pool (a server restart) must not crash the process: the pool
  // drops it and the next query opens a fresh one.
  if (owned) pool.on('error', () => {});

  const on = (client: pg.Pool | pg.PoolClient | pg.Client): Sql => ({
    async query<TRow>(text: string, params?: readonly unknown[], options?: QueryOptions) {
      const values = params as unknown[] | undefined;
      const result = await (options?.prepare === true
        ? client.query({ name: statementName(text), text, values: values ?? [] })
        : client.query(text, values));
      return { rows: result.rows as TRow[], rowCount: result.rowCount ?? 0 };
    },
    async exec(text: string) {
      await client.query(text); // without parameters pg uses the simple protocol, which runs several statements
    },
  });

  let closed = false;
  let notifier: Promise<pg.Client> | undefined;
  const database: Database = {
    engine: 'postgres',
    schemaName,
    schema,
    ...on(pool),
    async transaction<T>(work: (sql: Sql) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        // One round trip either way: without parameters, both statements go as one simple query.
        await client.query(
          options.synchronousCommit === false ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN',
        );
        const result = await work(serialized(on(client)));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection whose rollback fails is in an unknown state: release it as broken so the pool discards it.
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async connect(): Promise<Connection> {
      // Outside the pool, with the pool's settings: a session held for hours must not take a pooled slot.
      const client = new pg.Client({ ...pool.options, keepAlive: true, keepAliveInitialDelayMillis: 5000 });
      let end: (error: Error | undefined) => void = () => {};
      const ended = new Promise<Error | undefined>((resolve) => (end = resolve));
      client.on('error', (error) => end(error));
      client.on('end', () => end(undefined));
      await client.connect();
      // TCP keep-alives on both ends: if this host goes away, the server gives up on the session after 5 s of
      // silence and 5 unanswered probes 2 s apart, and releases its locks (a lease held here), rather than after
      // the operating system's default of two hours.
      await client.query(
        'SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 5',
      );
      return {
        ...on(client),
        async listen(channel, onNotify) {
          client.on('notification', (message) => {
            if (message.channel === channel) onNotify();
          });
          await client.query(`LISTEN "${channel}"`);
        },
        ended,
        async release() {
          await client.end().catch(() => {});
        },
      };
    },
    async notify(channel: string) {
      if (closed) return;
      notifier ??= (async () => {
        const client = new pg.Client(pool.options);
        client.on('error', () => (notifier = undefined)); // the next notification opens a new one
        await client.connect();
        return client;
      })();
      const opening = notifier;
      try {
        await (await opening).query('SELECT pg_notify($1, $2)', [channel, '']);
      } catch (error) {
        if (notifier === opening) notifier = undefined;
        throw error;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      const client = notifier;
      notifier = undefined;
      await client?.then((c) => c.end()).catch(() => {});
      if (owned) await pool.end();
    },
    [Symbol.asyncDispose]: () => database.close(),
  };
  return database;
}

/**
 * A transaction's statements one after the other, however many its callers send at once (a group commit sends
 * several participants' together): each goes as soon as the previous is answered, within that answer's
 * microtasks rather than a later turn of the event loop. pg itself queues a busy client's queries, but that is
 * deprecated and goes in pg 9.
 */
function serialized(sql: Sql): Sql {
  let tail: Promise<unknown> = Promise.resolve();
  const next = <T>(run: () => Promise<T>): Promise<T> => {
    const result = tail.then(run);
    tail = result.catch(() => {});
    return result;
  };
  return {
    query: (text, params, options) => next(() => sql.query(text, params, options)),
    exec: (text) => next(() => sql.exec(text)),
  };
}

const names = new Map<string, string>();

/**
 * The name a prepared statement goes by: derived from its text, so that two databases sharing a pool (another
 * schema, another text) never give one name to two statements on a connection, which pg rejects.
 */
function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `myelin_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}
