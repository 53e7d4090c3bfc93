import type { LogPosition } from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { describe, expect, it } from 'vitest';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { engines, postgresUrl } from '../testing/databases.ts';
import { logSignal } from './logSignal.ts';
import { tailLog } from './logTail.ts';

describe.each(engines)('tailing the log on $name', (engine) => {
  it('follows commits from now, resumes after a position, skips other types and ends on abort', async () => {
    const { database, drop } = await engine.open();
    try {
      const store = new PostgresEventStore(database);
      await store.append('old', [newEvent('tail.noted', { n: 0 })], 'no_stream');
      const stop = new AbortController();
      const seen: { n: number; position: LogPosition }[] = [];
      const following = (async () => {
        for await (const event of tailLog(database, {
          types: ['tail.noted'],
          signal: stop.signal,
          pollMs: 60_000,
        })) {
          seen.push({ n: (event.data as { n: number }).n, position: event.position });
          if (seen.length === 3) stop.abort();
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 100)); // the tail has started, at the end of the log
      for (const n of [1, 2, 3]) {
        await store.append(`s${n}`, [newEvent('tail.other', {}), newEvent('tail.noted', { n })], 'no_stream');
        logSignal(database).committed(); // what a unit of work's commit does
      }
      await following; // woken by the commits: the 60 s poll would time the test out
      expect(seen.map((s) => s.n)).toEqual([1, 2, 3]);

      const again: number[] = [];
      const resume = new AbortController();
      setTimeout(() => resume.abort(), 300);
      for await (const event of tailLog(database, {
        after: seen[0]?.position,
        types: ['tail.noted'],
        signal: resume.signal,
        pollMs: 50,
      })) {
        again.push((event.data as { n: number }).n);
      }
      expect(again).toEqual([2, 3]);
    } finally {
      await drop();
    }
  });
});

describe('tailing the log on postgres, from another process', () => {
  it('wakes at a commit another process made, with no subscription runner in this one', async () => {
    const postgres = engines.find((engine) => engine.name === 'postgres');
    const { database, drop } = await (postgres as (typeof engines)[number]).open();
    // Another process: its own pool and its own log signal, on the same schema.
    const other = postgresDatabase({ connectionString: postgresUrl, schema: database.schemaName, max: 2 });
    try {
      const stop = new AbortController();
      const following = (async () => {
        for await (const event of tailLog(database, { signal: stop.signal, pollMs: 60_000 })) {
          stop.abort();
          return event.metadata.type;
        }
        return undefined;
      })();
      await new Promise((resolve) => setTimeout(resolve, 200)); // the tail is waiting, listening
      const started = performance.now();
      await new PostgresEventStore(other).append('far', [newEvent('tail.far', {})], 'no_stream');
      // The other process's store sends its NOTIFY (coalesced, 25 ms later); the 60 s poll would time out.
      expect(await following).toBe('tail.far');
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await other.close();
      await drop();
    }
  });
});
