import { comparePositions, type StoredEvent, startOfLog } from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { appendToStream, PostgresEventStore } from './postgresEventStore.ts';

const happened = (label: string) => newEvent('test.happened', { label }, { correlationId: 'c' });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(engines)('reading the log on $name while a transaction commits late', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open();
  });
  afterAll(() => test.drop());

  it('never skips the late event, and gives every event exactly once in one consistent order', async () => {
    const { database } = test;
    const store = new PostgresEventStore(database);
    const streams = ['late', 'a', 'b', 'c'].map((name) => `${name}-${crypto.randomUUID()}`);
    const [lateStream, ...laterStreams] = streams as [string, ...string[]];
    const ours = (events: readonly StoredEvent[]) => events.filter((e) => streams.includes(e.streamId));

    // A transaction appends first (so its event gets the lowest sequence number) and stays open.
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = () => {};
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const late = database.transaction(async (sql) => {
      await appendToStream(sql, database.schema, lateStream, [happened('late')], 'any');
      entered();
      await gate;
    });
    await inside;

    // Later appends commit while it is open (on PGlite, with one connection, they queue behind it instead).
    const later = Promise.all(
      laterStreams.map((stream, i) => store.append(stream, [happened(`later ${i}`)])),
    );
    if (engine.name === 'postgres') {
      await later;
      // What a reader going by sequence number alone would see now: the later events, past the late one's number.
      const { rows } = await database.query<{ sequence: string }>(
        `SELECT sequence::text FROM ${database.schema}.events WHERE stream_id = ANY($1::text[]) ORDER BY sequence`,
        [streams],
      );
      expect(rows).toHaveLength(3);
    }
    const firstRead = store.readAll({ after: startOfLog });
    await sleep(50);
    release();
    await late;
    await later;

    const first = ours(await firstRead);
    if (engine.name === 'postgres') expect(first).toEqual([]); // all held back behind the open transaction
    const checkpoint = first.at(-1)?.position ?? startOfLog;
    const second = ours(await store.readAll({ after: checkpoint }));
    const seen = [...first, ...second];

    expect(seen.map((e) => (e.data as { label: string }).label).sort()).toEqual([
      'late',
      'later 0',
      'later 1',
      'later 2',
    ]);
    expect(new Set(seen.map((e) => e.metadata.eventId)).size).toBe(4);
    expect(seen.map((e) => e.position)).toEqual(seen.map((e) => e.position).sort(comparePositions));
    // The same order on every read: reading the whole log again gives the same sequence.
    expect(ours(await store.readAll()).map((e) => e.metadata.eventId)).toEqual(
      seen.map((e) => e.metadata.eventId),
    );
  });
});
