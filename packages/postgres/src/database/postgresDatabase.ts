import { createHash } from 'node:crypto';
import { UnavailableError } from '@myelin/core';
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
  /**
   * Where the connections Myelin holds for a session go (leases and member locks, which are session-level advisory
   * locks; `LISTEN`; `NOTIFY`), when not where the pool goes: a direct connection, or a pooler in session mode,
   * while the pool goes through PgBouncer in transaction mode (see docs/scaling.md). Defaults to the pool's.
   */
  readonly sessionConnectionString?: string;
  /** The schema Myelin's tables live in; defaults to `myelin`. */
  readonly schema?: string;
  /** The most connections the pool opens; defaults to 10. */
  readonly max?: number;
  /**
   * How long a pooled connection may sit unused before the pool closes it, in milliseconds; defaults to 5 minutes
   * (pg's own default is 10 s). A connection holds the statements Myelin prepared on it, and a new one pays to open
   * and to prepare them again: closed after 10 s, connections opened again at the next rise in load, and the lag of
   * the projections in bench/ showed it (a second of 10-20 ms reads every time the pool grew back). 0 keeps them
   * open. Ignored with `pool`.
   */
  readonly idleConnectionMs?: number;
  /**
   * Limits, so that a server that is down, overloaded or frozen makes a request fail in bounded time (and the HTTP
   * boundary answer 503) rather than hang. Each in milliseconds, 0 for none; ignored with `pool` (its own apply).
   */
  readonly timeouts?: PostgresTimeouts;
  /**
   * The lease time, in milliseconds: after a network cut, the longest a standby waits to take over a lease held
   * by this process (a subscription, a projection, the scheduler), and longer than this process goes on writing
   * under it. The server ends a session it has not heard from for half of it (TCP keep-alives and
   * `tcp_user_timeout`, on every session), which releases the session's locks; this process gives its sessions up
   * (and its leases with them) when it has not heard the server for 0.4 of it, so it stops before the server could
   * let a standby in. Each session of its own asks the server something every tenth of it. Defaults to 10 s; at
   * least 2 s. A process killed outright loses its leases at once, whatever this is: its server sees it go.
   */
  readonly leaseMs?: number;
}

export interface PostgresTimeouts {
  /** To open a connection (a server that accepts TCP but never answers, as a frozen one does); defaults to 5 s. */
  readonly connectMs?: number;
  /**
   * For one statement, enforced by the server (`statement_timeout`) and, 5 s later, by the client, which is what
   * ends a wait on a frozen server; defaults to 15 s. Migrations lift it for themselves.
   */
  readonly statementMs?: number;
  /** To wait for a row or advisory lock (`lock_timeout`); defaults to 5 s. */
  readonly lockMs?: number;
  /** A transaction left idle that long is ended by the server (`idle_in_transaction_session_timeout`); 30 s. */
  readonly idleInTransactionMs?: number;
}

/** The client gives the server this long past its own statement timeout, which should answer first. */
const clientGraceMs = 5000;

/** How long a pooled connection may sit unused when no `idleConnectionMs` is given. */
const defaultIdleConnectionMs = 300_000;

/** `idleConnectionMs` as pg takes it: a timer's delay, which Node fires at once when it is not a 32-bit one. */
function idleConnectionMsOf(ms: number | undefined): number {
  if (ms === undefined) return defaultIdleConnectionMs;
  if (!Number.isInteger(ms) || ms < 0 || ms > 2 ** 31 - 1) {
    throw new RangeError(
      `idleConnectionMs must be a whole number of milliseconds from 0 to 2147483647: ${ms}`,
    );
  }
  return ms;
}

/** The lease time when none is given: a standby takes over within 10 s of a network cut. */
const defaultLeaseMs = 10_000;

/**
 * What the lease time means for a session, on each side. `server`: the settings that make the server end a
 * session it has not heard from for `leaseMs / 2`: `tcp_user_timeout` for what it sent and was never acknowledged,
 * and keep-alives otherwise (a probe after `leaseMs / 4` without a word, then every tenth of the lease time, a second
 * at least). On Linux `tcp_user_timeout` decides both, so the session ends between `leaseMs / 2` and about `leaseMs`
 * after the last word (the latter when the server began sending just as its probes were giving up); elsewhere the
 * probes count. `heartbeatMs`: how often a session of its own asks the server something. `giveUpMs`: how long
 * after sending the last statement the server answered this process stops counting on the session, a tenth of the
 * lease time short of the server's earliest end: room for a round trip and a late timer.
 */
function leaseTimes(leaseMs: number): {
  readonly server: Readonly<Record<string, number>>;
  readonly heartbeatMs: number;
  readonly giveUpMs: number;
  /** How long a session may idle before the server ends it: half the lease time, as `tcp_user_timeout`. */
  readonly idleSessionMs: number;
} {
  if (!Number.isFinite(leaseMs) || leaseMs < 2000) {
    throw new RangeError(
      `leaseMs must be at least 2000 ms (the server counts keep-alives in seconds): ${leaseMs}`,
    );
  }
  const userTimeoutMs = Math.round(leaseMs / 2);
  const idle = Math.max(1, Math.floor(userTimeoutMs / 2000));
  const interval = Math.max(1, Math.floor(userTimeoutMs / 5000));
  return {
    server: {
      tcp_user_timeout: userTimeoutMs,
      tcp_keepalives_idle: idle,
      tcp_keepalives_interval: interval,
      tcp_keepalives_count: Math.max(1, Math.ceil((userTimeoutMs / 1000 - idle) / interval)),
    },
    heartbeatMs: Math.round(leaseMs / 10),
    idleSessionMs: userTimeoutMs,
    giveUpMs: userTimeoutMs - Math.round(leaseMs / 10),
  };
}

/**
 * Run once on each new connection of a pool the database makes: the server allocates and frees 1 MiB, which tells a
 * glibc server's allocator to keep up to 2 MiB free in the backend's heap (its dynamic trim threshold, 128 KiB at
 * start). Without it, a statement whose memory peaks above 128 KiB (a ten-event append of sealed events) grew the heap
 * and gave it back to the kernel at every execution, a `brk` pair each, whose TLB flushes cost every CPU (`perf` put
 * 11% of the server's samples there; BENCHMARKS.md, the protected case). Elsewhere it does nothing harmful, and a
 * failure is ignored: it must never keep a connection from the pool.
 */
async function widenHeap(client: pg.ClientBase): Promise<void> {
  await client.query(`SELECT length(repeat('x', ${heapWarmUpBytes}))`).catch(() => {});
}

const heapWarmUpBytes = 1024 * 1024;

/**
 * Myelin's tables on a PostgreSQL server, through a `pg` connection pool.
 * @example const db = postgresDatabase({ connectionString: process.env.DATABASE_URL, schema: 'orders' });
 */
export function postgresDatabase(options: PostgresDatabaseOptions = {}): Database {
  const schemaName = options.schema ?? defaultSchema;
  const schema = quoteSchema(schemaName);
  const owned = options.pool === undefined;
  const timeouts = {
    connectMs: options.timeouts?.connectMs ?? 5000,
    statementMs: options.timeouts?.statementMs ?? 15_000,
    lockMs: options.timeouts?.lockMs ?? 5000,
    idleInTransactionMs: options.timeouts?.idleInTransactionMs ?? 30_000,
  };
  const lease = leaseTimes(options.leaseMs ?? defaultLeaseMs);
  // Sent at connection start (no round trip): the server gives up on a pooled session as on a leases' one, so a
  // transaction of a vanished process (its row locks, a projection's) ends within the lease time too. A connection
  // string's own `options` replace these.
  const serverOptions = Object.entries(lease.server)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
  // pg reads 0 as "the pool's": no limit is the longest timer Node keeps (24 days).
  const clientTimeout = (ms: number) => (ms === 0 ? 2 ** 31 - 1 : ms + clientGraceMs);
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString ?? process.env.DATABASE_URL,
      max: options.max ?? 10,
      idleTimeoutMillis: idleConnectionMsOf(options.idleConnectionMs),
      connectionTimeoutMillis: timeouts.connectMs,
      statement_timeout: timeouts.statementMs,
      lock_timeout: timeouts.lockMs,
      idle_in_transaction_session_timeout: timeouts.idleInTransactionMs,
      query_timeout: timeouts.statementMs === 0 ? 0 : clientTimeout(timeouts.statementMs),
      options: [process.env.PGOPTIONS, serverOptions].filter(Boolean).join(' '),
      // A statement waiting for an answer on a session the server has dropped (a network cut) hears of it when the
      // network is back, from the reset answering a probe, rather than at its timeout.
      keepAlive: true,
      keepAliveInitialDelayMillis: Math.min(5000, lease.giveUpMs),
      onConnect: widenHeap,
    });
  // Sessions take the pool's settings, and their own address when given one.
  const sessionOptions = (): pg.ClientConfig =>
    options.sessionConnectionString === undefined
      ? pool.options
      : { ...pool.options, connectionString: options.sessionConnectionString };
  // A connection that breaks while idle in the pool (a server restart) must not crash the process: the pool
  // drops it and the next query opens a fresh one.
  if (owned) pool.on('error', () => {});

  const on = (client: pg.Pool | pg.PoolClient | pg.Client): Sql => ({
    async query<TRow>(text: string, params?: readonly unknown[], options?: QueryOptions) {
      const values = params as unknown[] | undefined;
      try {
        const result = await (options?.prepare === true
          ? client.query({ name: statementName(text), text, values: values ?? [] })
          : options?.timeoutMs !== undefined
            ? client.query(withTimeout({ text, values: values ?? [] }, clientTimeout(options.timeoutMs)))
            : client.query(text, values));
        return { rows: result.rows as TRow[], rowCount: result.rowCount ?? 0 };
      } catch (error) {
        throw unavailableOr(error);
      }
    },
    async exec(text: string, options?: Pick<QueryOptions, 'timeoutMs'>) {
      try {
        // Without parameters pg uses the simple protocol, which runs several statements.
        if (options?.timeoutMs === undefined) await client.query(text);
        else await client.query(withTimeout({ text }, clientTimeout(options.timeoutMs)));
      } catch (error) {
        throw unavailableOr(error);
      }
    },
  });

  let closed = false;
  let notifier: Promise<pg.Client> | undefined;
  let notifying: Promise<unknown> = Promise.resolve();
  const database: Database = {
    engine: 'postgres',
    schemaName,
    schema,
    ...on(pool),
    get pool() {
      return {
        open: pool.totalCount,
        idle: pool.idleCount,
        waiting: pool.waitingCount,
        max: pool.options.max ?? 10,
      };
    },
    async transaction<T>(work: (sql: Sql) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
      const client = await pool.connect().catch((error: unknown) => {
        throw unavailableOr(error);
      });
      let broken: Error | undefined;
      // Checked out, a client has no listener of the pool's: a server that goes away mid-transaction would be an
      // uncaught 'error' and take the process down. Noted here, it fails the transaction and discards the client.
      const lost = (error: Error) => {
        broken = error;
      };
      client.on('error', lost);
      try {
        // One round trip either way: without parameters, both statements go as one simple query.
        const sql = on(client);
        await sql.exec(
          options.synchronousCommit === false ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN',
        );
        const result = await work(serialized(sql));
        await sql.exec('COMMIT');
        return result;
      } catch (error) {
        // A connection that is lost or did not answer in time would make the rollback wait as long again (a frozen
        // server answers nothing): discard it, and the server rolls back when the session ends. Otherwise roll
        // back; a connection whose rollback fails is in an unknown state, and is discarded too.
        if (broken === undefined && connectionLost(error)) broken = error as Error;
        if (broken === undefined) {
          await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        }
        throw unavailableOr(error);
      } finally {
        client.off('error', lost);
        client.release(broken);
      }
    },
    async connect(): Promise<Connection> {
      // Outside the pool, with the pool's settings: a session held for hours must not take a pooled slot.
      const client = new pg.Client({
        ...sessionOptions(),
        keepAlive: true,
        keepAliveInitialDelayMillis: 5000,
      });
      // When this process last knew the server alive: the sending time of the latest statement it answered. The
      // server counts its silence from when it last heard this side, which is no earlier.
      let heardAt = performance.now();
      let over = false;
      let heartbeat: NodeJS.Timeout | undefined;
      let deadline: NodeJS.Timeout | undefined;
      let end: (error: Error | undefined) => void = () => {};
      const ended = new Promise<Error | undefined>((resolve) => {
        end = (error) => {
          over = true;
          clearInterval(heartbeat);
          clearTimeout(deadline);
          resolve(error);
        };
      });
      client.on('error', (error) => end(error));
      client.on('end', () => end(undefined));
      // Not heard for too long: the server may be about to end the session (and free its locks for another
      // process), so it is given up now, before it could. Its statements fail; its users open another.
      const giveUp = () => {
        if (over) return;
        end(
          new UnavailableError(
            `PostgreSQL was not heard from for ${lease.giveUpMs} ms: the session is given up`,
            {
              retryAfterSeconds: 2,
            },
          ),
        );
        client.connection.stream.destroy();
      };
      const expired = () => !over && performance.now() - heardAt >= lease.giveUpMs;
      const watch = () => {
        if (over) return;
        const left = heardAt + lease.giveUpMs - performance.now();
        if (left <= 0) giveUp();
        else deadline = setTimeout(watch, left).unref();
      };
      // Heard: an answer, or the server's refusal of a statement (but not a timeout of this side's).
      const raw = on(client);
      const heard = <T>(work: () => Promise<T>): Promise<T> => {
        const sent = performance.now();
        return work().then(
          (result) => {
            heardAt = Math.max(heardAt, sent);
            return result;
          },
          (error: unknown) => {
            if (!connectionLost(error)) heardAt = Math.max(heardAt, sent);
            throw error;
          },
        );
      };
      await client.connect().catch((error: unknown) => {
        throw unavailableOr(error);
      });
      // TCP keep-alives and a user timeout on the server's side: if this host goes away, the server gives up on the
      // session within the lease time and releases its locks (a lease held here), rather than after the operating
      // system's default of two hours. Set here as well as at connection start, where a connection string's own
      // options may have replaced them.
      // And a session left idle for as long ends too: a process frozen rather than gone (SIGSTOP, a paused VM) has
      // a kernel that still answers TCP for it, and a Unix socket has no TCP at all, so neither would end the
      // session, whose locks (leases, a partition group's member slot) would be held for ever. A live process never
      // lets it idle so long: its heartbeat below asks every tenth of the lease time. (Only from PostgreSQL 14.)
      await heard(() =>
        raw.exec(
          [
            ...Object.entries(lease.server).map(([name, value]) => `SET ${name} = ${value}`),
            `SELECT set_config('idle_session_timeout', '${lease.idleSessionMs}', false)
             FROM pg_settings WHERE name = 'idle_session_timeout'`,
          ].join('; '),
        ),
      ).catch(async (error: unknown) => {
        await client.end().catch(() => {});
        throw error;
      });
      // A session is shared (every lease of a process lives on one): its statements go one after the other, as
      // pg 9 will require, instead of being queued inside the client.
      const serial = serialized({
        query: (text, params, options) => heard(() => raw.query(text, params, options)),
        exec: (text, options) => heard(() => raw.exec(text, options)),
      });
      // A statement that timed out on this side is still running in the client: the next would run beside it
      // (pg 9 refuses that). A session that lost its server, or stopped hearing it, is ended; its users reopen.
      const guarded = <T>(work: Promise<T>): Promise<T> =>
        work.catch((error: unknown) => {
          if (connectionLost(error)) {
            end(error as Error);
            void client.end().catch(() => {});
          }
          throw error;
        });
      const session: Sql = {
        query: (text, params, options) => guarded(serial.query(text, params, options)),
        exec: (text, options) => guarded(serial.exec(text, options)),
      };
      // Asked something every tenth of the lease time, one question at a time, so that a cut is noticed while
      // nothing else is said; and watched, so that the session is given up on time however busy this process is.
      let asking = false;
      heartbeat = setInterval(() => {
        if (asking || over) return;
        asking = true;
        session
          .query('SELECT 1')
          .catch(() => {})
          .finally(() => (asking = false));
      }, lease.heartbeatMs).unref();
      watch();
      return {
        ...session,
        async listen(channel, onNotify) {
          client.on('notification', (message) => {
            if (message.channel === channel) onNotify();
          });
          await session.exec(`LISTEN "${channel}"`);
        },
        ended,
        get alive() {
          // Read before every effect of a lease: given up here at once when its time has passed, even if the
          // timer that watches for it has not run yet (a busy event loop).
          if (expired()) giveUp();
          return !over;
        },
        async release() {
          if (over) {
            client.connection.stream.destroy();
            return;
          }
          end(undefined);
          // Said goodbye to, unless the server cannot be reached: then dropped, since the server ends it anyway.
          const bye = setTimeout(() => client.connection.stream.destroy(), lease.giveUpMs).unref();
          await client.end().catch(() => {});
          clearTimeout(bye);
        },
      };
    },
    async notify(channel: string) {
      if (closed) return;
      notifier ??= (async () => {
        const client = new pg.Client(sessionOptions());
        client.on('error', () => (notifier = undefined)); // the next notification opens a new one
        await client.connect();
        return client;
      })();
      const opening = notifier;
      // One at a time on the client (several channels notify at once): pg 9 refuses a query beside another.
      const sent = notifying.then(async () =>
        (await opening).query('SELECT pg_notify($1, $2)', [channel, '']),
      );
      notifying = sent.catch(() => {});
      try {
        await sent;
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

/** A statement with a client-side timeout of its own, which pg reads although its types do not say so. */
function withTimeout(config: pg.QueryConfig, ms: number): pg.QueryConfig {
  return { ...config, query_timeout: ms } as pg.QueryConfig;
}

/** Node's words for a network that cannot reach the server, or lost it. */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that say "not now" rather than "never": the connection (class 08), the server shutting down or
 * starting (57P01–57P03), too many connections (53300), and the timeouts above (57014 statement, 55P03 lock).
 */
const transientStates = /^(08...|57P0[123]|53300|57014|55P03)$/;

/** pg's own words for a connection lost, or not heard from in time (its client-side timeout). */
const lostMessages = /^(Connection terminated|Query read timeout|Client has encountered a connection error)/;
/** ...and for one never made. */
const notConnectedMessages = /^timeout exceeded when trying to connect/;

/** Whether an error says the connection itself is gone or unresponsive, not only the statement. */
function connectionLost(error: unknown): boolean {
  if (error instanceof UnavailableError) return connectionLost(error.cause);
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    (typeof code === 'string' && (networkCodes.has(code) || code.startsWith('08'))) ||
    lostMessages.test(error.message)
  );
}

/**
 * The error as Myelin's {@link UnavailableError} when it says the server cannot be reached or did not answer in
 * time, so the HTTP boundary answers 503 and the caller retries; any other error unchanged.
 */
export function unavailableOr(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof UnavailableError) return error;
  const code = (error as { code?: unknown }).code;
  const transient =
    (typeof code === 'string' && (networkCodes.has(code) || transientStates.test(code))) ||
    lostMessages.test(error.message) ||
    notConnectedMessages.test(error.message) ||
    (error instanceof AggregateError && error.errors.some((inner) => unavailableOr(inner) !== inner));
  if (!transient) return error;
  return new UnavailableError(`PostgreSQL is unavailable: ${error.message || String(code)}`, {
    retryAfterSeconds: 2,
    cause: error,
  });
}
