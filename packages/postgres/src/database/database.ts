import { createHash } from 'node:crypto';

/** The rows a statement returned and how many it changed. */
export interface QueryResult<TRow> {
  readonly rows: TRow[];
  readonly rowCount: number;
}

/** How to run one statement. */
export interface QueryOptions {
  /**
   * Prepare the statement once per connection and reuse its plan: for the statements run on every command, whose
   * planning would otherwise cost as much as running them. Only for text built from a fixed set of shapes, since
   * each distinct text stays prepared for the connection's lifetime. PGlite runs in process and ignores it.
   */
  readonly prepare?: boolean;
  /**
   * How long the client waits for this statement, in milliseconds, instead of the database's statement timeout
   * plus its grace; 0 for no limit. The server's own `statement_timeout` still applies: lift it for a transaction
   * with `SET LOCAL statement_timeout = 0` (a migration building an index does both). PGlite ignores it.
   */
  readonly timeoutMs?: number;
}

/** For the statements Myelin runs on every command (`{ prepare: true }`). */
export const prepared: QueryOptions = { prepare: true };

/**
 * The LISTEN/NOTIFY channel of a topic in a database's schema: `myelin_<topic>_<schema>`, or, where that passes the
 * 63 bytes a channel's name may have (NOTIFY refuses a longer one, LISTEN cuts it short), the schema's name hashed.
 */
export function channelOf(database: Pick<Database, 'schemaName'>, topic: string): string {
  const named = `myelin_${topic}_${database.schemaName}`;
  if (Buffer.byteLength(named) <= 63) return named;
  return `myelin_${topic}_${createHash('sha256').update(database.schemaName).digest('hex').slice(0, 32)}`;
}

/** Runs statements: a database, or one transaction of it. */
export interface Sql {
  /** One statement with `$1`-style parameters. */
  query<TRow = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<TRow>>;
  /** Several statements without parameters (a migration). */
  exec(text: string, options?: Pick<QueryOptions, 'timeoutMs'>): Promise<void>;
}

/**
 * A connection of its own, held until released: for what lives in a session rather than a statement, the LISTEN
 * that wakes subscribers and the advisory locks that lease a subscription to one process.
 */
export interface Connection extends Sql {
  /** Calls `onNotify` for each notification on `channel`. */
  listen(channel: string, onNotify: () => void): Promise<void>;
  /**
   * Settles when the connection is lost (with the error), given up or released: this process holds none of the
   * session's locks from then on (the server may hold them a little longer, until it ends the session too).
   */
  readonly ended: Promise<Error | undefined>;
  /**
   * Whether the session is still this process's to count on. False once ended, and from the moment the server has
   * not been heard from for so long that it might be ending the session on its side (a network cut: see
   * `leaseMs` of `postgresDatabase`), a margin before it could: the session is then given up, so that what its
   * locks guard stops here before another process can take them. Statements on such a session must be short.
   */
  readonly alive: boolean;
  release(): Promise<void>;
}

export interface TransactionOptions {
  /**
   * `false`: the commit returns without waiting for its log record to reach the disk (PostgreSQL's
   * `synchronous_commit = off`, for this transaction only). A crash of the server may then lose the transaction
   * whole, never a part of it; so only for work that is done again when lost, like a projection's batch, which
   * commits its effects with its checkpoint and is applied again from the log.
   */
  readonly synchronousCommit?: false;
}

/**
 * A PostgreSQL database Myelin keeps its tables in, in one schema. Two drivers implement it, thinly: `pg` for a
 * server (`postgresDatabase` of `@myelin/postgres/pg`) and PGlite in process (`pgliteDatabase` of `@myelin/postgres/pglite`); everything above runs the same
 * SQL on both.
 */
export interface Database extends Sql, AsyncDisposable {
  readonly engine: 'postgres' | 'pglite';
  /** The schema's name, as configured. */
  readonly schemaName: string;
  /** The schema as a quoted identifier, ready to prefix table names in SQL. */
  readonly schema: string;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it rejects. */
  transaction<T>(work: (sql: Sql) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Opens a connection of its own (PGlite has one session, which every caller shares). */
  connect(): Promise<Connection>;
  /**
   * Sends a notification on `channel` to other sessions, as a hint (it may be lost). On PostgreSQL it goes through a
   * connection of its own, so that it never waits for, or takes, a pooled connection; on PGlite it does nothing
   * (the process is the only one).
   */
  notify(channel: string): Promise<void>;
  /** The connection pool's use now, on PostgreSQL (PGlite has one session, no pool). */
  readonly pool?: PoolUse | undefined;
  /** Closes the connections (or the embedded database). */
  close(): Promise<void>;
}

/** How a pool's connections are used at one moment. */
export interface PoolUse {
  /** Connections open, those of them idle, and requests waiting for one. */
  readonly open: number;
  readonly idle: number;
  readonly waiting: number;
  /** The most the pool opens. */
  readonly max: number;
}

export const defaultSchema = 'myelin';

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks a schema name and quotes it. Lower-case letters, digits and underscores only, so it needs no escaping. */
export function quoteSchema(name: string): string {
  if (!identifier.test(name)) {
    throw new TypeError(
      `Invalid schema name '${name}': use lower-case letters, digits and underscores, starting with a letter or _`,
    );
  }
  return `"${name}"`;
}

/** The PostgreSQL error code of an error from either driver (`23505` for a unique violation...). */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The constraint a PostgreSQL error names, when it names one. */
export function constraintOf(error: unknown): string | undefined {
  const constraint = (error as { constraint?: unknown } | null)?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}
