// A PostgreSQL server that goes away or freezes: every statement fails in bounded time with an UnavailableError
// (which the HTTP boundary answers with 503), and the database works again by itself once the server is back.
import { isUnavailable } from '@myelin/core';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresUrl, testSchema } from '../testing/databases.ts';
import { faultyProxy } from '../testing/faultyProxy.ts';
import type { Database } from './database.ts';
import { type PostgresTimeouts, postgresDatabase } from './postgresDatabase.ts';

const target = new URL(postgresUrl);
const open: Database[] = [];
afterEach(async () => {
  for (const database of open.splice(0)) await database.close();
});

function through(port: number, timeouts: PostgresTimeouts = {}) {
  const url = new URL(postgresUrl);
  url.port = String(port);
  const database = postgresDatabase({ connectionString: url.href, schema: testSchema(), max: 2, timeouts });
  open.push(database);
  return database;
}

async function failure(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const began = Date.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: Date.now() - began };
  }
  throw new Error('it did not fail');
}

describe('PostgreSQL outages', () => {
  it('a server that is not there: UnavailableError at once, for queries and transactions', async () => {
    const proxy = await faultyProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const port = proxy.port;
    await proxy.close(); // nothing listens there now
    const database = through(port);
    const query = await failure(database.query('SELECT 1'));
    expect(isUnavailable(query.error), String(query.error)).toBe(true);
    expect((query.error as Error).message).toMatch(/^PostgreSQL is unavailable/);
    const transaction = await failure(database.transaction((sql) => sql.query('SELECT 1')));
    expect(isUnavailable(transaction.error)).toBe(true);
  });

  it('a server stopped and started again: UnavailableError meanwhile, then it works by itself', async () => {
    const proxy = await faultyProxy({ host: target.hostname, port: Number(target.port || 5432) });
    try {
      const database = through(proxy.port);
      expect((await database.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
      await proxy.stop();
      const during = await failure(database.query('SELECT 1'));
      expect(isUnavailable(during.error), String(during.error)).toBe(true);
      await proxy.resume();
      expect((await database.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await proxy.close();
    }
  });

  it('a frozen server: connecting and running both give up within their timeouts, then it works again', async () => {
    const proxy = await faultyProxy({ host: target.hostname, port: Number(target.port || 5432) });
    try {
      const database = through(proxy.port, { connectMs: 500, statementMs: 500 });
      await database.query('SELECT 1'); // one connection open in the pool
      proxy.freeze();
      // The open connection: the server cannot cancel a statement it never sees, so the client gives up, at the
      // statement timeout plus its grace of 5 s.
      const running = await failure(database.query('SELECT 1'));
      expect(isUnavailable(running.error), String(running.error)).toBe(true);
      expect(running.ms).toBeLessThan(500 + 5000 + 3000);
      // A new connection (the timed-out one was discarded) never completes its handshake: the connect timeout.
      const connecting = await failure(database.transaction((sql) => sql.query('SELECT 1')));
      expect(isUnavailable(connecting.error), String(connecting.error)).toBe(true);
      expect(connecting.ms).toBeLessThan(500 + 3000);
      await proxy.resume();
      expect((await database.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await proxy.close();
    }
  });

  it('a session that stops hearing its server ends, rather than run its next statement beside the lost one', async () => {
    const proxy = await faultyProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const warnings: string[] = [];
    const warned = (warning: Error) => warnings.push(warning.message);
    process.on('warning', warned);
    try {
      const database = through(proxy.port, { connectMs: 500, statementMs: 500 });
      const session = await database.connect();
      await session.query('SELECT 1');
      proxy.freeze();
      // The statement gives up on this side; pg would still be waiting for it on the same client.
      expect(isUnavailable((await failure(session.query('SELECT 1'))).error)).toBe(true);
      // The session says it is over (its users, a lease or a listener, open another)...
      expect(await session.ended).toBeInstanceOf(Error);
      // ...and a statement sent on it anyway fails at once instead of queueing behind the lost one.
      await failure(session.query('SELECT 1'));
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.includes('already executing a query'))).toEqual([]);
      await session.release();
    } finally {
      process.off('warning', warned);
      await proxy.close();
    }
  });

  it('a statement past the statement timeout: cancelled by the server, an UnavailableError', async () => {
    const database = postgresDatabase({
      connectionString: postgresUrl,
      schema: testSchema(),
      max: 1,
      timeouts: { statementMs: 200 },
    });
    open.push(database);
    const slow = await failure(database.query('SELECT pg_sleep(2)'));
    expect(isUnavailable(slow.error), String(slow.error)).toBe(true);
    expect(slow.ms).toBeLessThan(1500);
    // A transaction that may take longer says so, to the server and to the client (as migrations do).
    await database.transaction(async (sql) => {
      await sql.exec('SET LOCAL statement_timeout = 0', { timeoutMs: 0 });
      await sql.query('SELECT pg_sleep(0.3)', [], { timeoutMs: 0 });
    });
  });
});
