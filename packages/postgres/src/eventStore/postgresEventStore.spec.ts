import { eventStoreContract, newEvent } from '@myelin/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Sql } from '../database/database.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { migrate } from '../migrations/migrate.ts';
import { engines, postgresUrl, type TestDatabase, testSchema } from '../testing/databases.ts';
import { appendToStream, PostgresEventStore } from './postgresEventStore.ts';

describe.each(engines)('the event store on $name', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open();
  });
  afterAll(() => test.drop());

  for (const contract of eventStoreContract()) {
    it(contract.name, () =>
      contract.run({ store: (options) => new PostgresEventStore(test.database, options) }),
    );
  }

  it('keeps a long append in stream order in the log, whatever each event holds', async () => {
    // The statement has no ORDER BY (its sort cost memory): the order is the executor's, checked here on an append
    // large and varied enough that a plan reordering its rows would show, into a stream, then into one that exists.
    const store = new PostgresEventStore(test.database);
    const events = (from: number) =>
      Array.from({ length: 500 }, (_, i) =>
        newEvent('test.ordered.v1', { n: from + i, pad: 'x'.repeat((i * 37) % 900), nested: { i } }),
      );
    await store.append('ordered', events(0), 'no_stream');
    await store.append('ordered', events(500), 500);
    const inLog = (await store.readAll()).filter((event) => event.streamId === 'ordered');
    expect(inLog.map((event) => (event.data as { n: number }).n)).toEqual(
      Array.from({ length: 1000 }, (_, n) => n),
    );
    expect(inLog.map((event) => event.streamVersion)).toEqual(Array.from({ length: 1000 }, (_, n) => n + 1));
  });
});

describe('the order of an append', () => {
  it('is checked on what the statement returns: rows out of order fail the append loudly', async () => {
    // A server (or a plan) that gave the rows back in another order than the events': positions would be wrong.
    const reversed: Sql = {
      async query<TRow>() {
        const rows = [1, 2, 3].map((v) => ({ tx: '900', seq: String(10 + v), stream_version: v }));
        return { rows: rows.reverse() as TRow[], rowCount: 3 };
      },
      async exec() {},
    };
    const events = [1, 2, 3].map((n) => newEvent('test.ordered.v1', { n }));
    await expect(appendToStream(reversed, '"s"', 'a-stream', events, 'no_stream')).rejects.toThrow(
      'The append to a-stream was stored out of order: version 2 at 900.12 after 3 at 900.13',
    );
  });

  it('is checked on how many rows the statement returns: one per event', async () => {
    const short: Sql = {
      async query<TRow>() {
        return { rows: [{ tx: '900', seq: '11', stream_version: 1 }] as TRow[], rowCount: 1 };
      },
      async exec() {},
    };
    const events = [1, 2].map((n) => newEvent('test.ordered.v1', { n }));
    await expect(appendToStream(short, '"s"', 'a-stream', events, 'no_stream')).rejects.toThrow(
      'The append to a-stream returned 1 rows for 2 events',
    );
  });
});

describe('prepared statements on PostgreSQL', () => {
  it('keep two schemas apart when their databases share one pool and one connection', async () => {
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 1 });
    const schemas = [testSchema(), testSchema()];
    const [a, b] = schemas.map((schema) => postgresDatabase({ pool, schema })) as [Database, Database];
    try {
      await migrate(a);
      await migrate(b);
      const stores = [new PostgresEventStore(a), new PostgresEventStore(b)];
      // The same append text but another schema on one connection: each must go to its own log, every time.
      for (let round = 1; round <= 3; round++) {
        for (const [i, store] of stores.entries()) {
          await store.append(
            's',
            [newEvent('test.happened.v1', { round, store: i })],
            round === 1 ? 'no_stream' : round - 1,
          );
        }
      }
      for (const [i, store] of stores.entries()) {
        expect((await store.readStream('s')).map((event) => event.data)).toEqual(
          [1, 2, 3].map((round) => ({ round, store: i })),
        );
      }
    } finally {
      for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });
});
