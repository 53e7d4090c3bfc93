// Starting while a service is down: a deployment's processes start in any order, and a database or a broker may
// be restarting. Each waits, says what for, and goes on when it answers, rather than crashing.
import { mkdirSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { isUnavailable } from '@myelin/core';
import type { Database } from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import { pgliteDatabase } from '@myelin/postgres/pglite';
import type { DatabaseConfig } from './config.ts';

export interface RetryOptions {
  /** Where the waiting is said; one line per attempt. */
  readonly log: (line: string) => void;
  /** The first wait, doubled each time up to `maxMs`; 0.5 s and 10 s by default. */
  readonly minMs?: number;
  readonly maxMs?: number;
  /** Whether an error means "not there yet" (retry) rather than a mistake (throw); by default, unavailable ones. */
  readonly transient?: (error: unknown) => boolean;
  /** Stops waiting (the process is stopping). */
  readonly signal?: AbortSignal;
}

/**
 * Thrown by `untilAvailable` when its signal ended the waiting: the last attempt failed for a reason that may have
 * passed later (its error is the `cause`). An error that is a mistake is thrown as it is, whenever it comes.
 */
export class GaveUpWaitingError extends Error {
  override readonly name = 'GaveUpWaitingError';
  constructor(what: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${what} did not answer before the waiting was given up: ${reason}`, { cause });
  }
}

/**
 * Runs `attempt` until it succeeds, waiting longer each time it fails for a reason that may pass. An attempt is
 * never cut short (a connection half made would leak): when `signal` aborts during one, the waiting ends with it.
 */
export async function untilAvailable<T>(
  what: string,
  attempt: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { minMs = 500, maxMs = 10_000, transient = isUnavailable, signal } = options;
  for (let tries = 1, waitMs = minMs; ; tries++, waitMs = Math.min(waitMs * 2, maxMs)) {
    try {
      return await attempt();
    } catch (error) {
      if (!transient(error)) throw error;
      if (signal?.aborted) throw new GaveUpWaitingError(what, error);
      const reason = error instanceof Error ? error.message : String(error);
      options.log(`  waiting for ${what} (attempt ${tries}, next in ${waitMs / 1000} s): ${reason}`);
      // The timer's own abort listener goes with it: a listener per retry on a long-lived signal would pile up.
      await delay(waitMs, undefined, signal === undefined ? {} : { signal }).catch(() => {});
      if (signal?.aborted) throw new GaveUpWaitingError(what, error);
    }
  }
}

/** Where a URL points, for a log line: host, port and database, never the user or the password. */
export function describeUrl(url: string, defaultPort: number): string {
  try {
    const parsed = new URL(url.includes('://') ? url : `nats://${url}`);
    return `${parsed.hostname}:${parsed.port || defaultPort}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return 'an address that does not parse';
  }
}

/** The database the configuration names: PostgreSQL once it answers, or the embedded one in its folder. */
export async function openDatabase(config: DatabaseConfig, signal?: AbortSignal): Promise<Database> {
  if (config.engine === 'postgres') {
    const database = postgresDatabase({ connectionString: config.url, schema: config.schema });
    // A deployment starts its processes in any order: wait for the server rather than crash (until `signal`
    // aborts, for a command that must end: then a GaveUpWaitingError says why the last attempt failed).
    try {
      await untilAvailable(
        `PostgreSQL at ${describeUrl(config.url, 5432)}`,
        () => database.query('SELECT 1'),
        {
          log: console.log,
          ...(signal === undefined ? {} : { signal }),
        },
      );
    } catch (error) {
      await database.close().catch(() => {}); // the error worth saying is why it did not answer
      throw error;
    }
    return database;
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 }); // first run: PGlite creates the cluster inside
  return pgliteDatabase({ dataDir: config.dataDir, schema: config.schema });
}
