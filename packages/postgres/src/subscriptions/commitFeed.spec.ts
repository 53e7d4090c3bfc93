import type { LogPosition, StoredEvent } from '@myelin/core';
import { comparePositions } from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { describe, expect, it, vi } from 'vitest';
import { PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { engines } from '../testing/databases.ts';
import { commitFeed } from './commitFeed.ts';
import { logSignal } from './logSignal.ts';

describe.each(engines)('the commit feed on $name', (engine) => {
  it('reads each commit once for all its followers, from the position it gives them, and stops when they leave', async () => {
    const { database, drop } = await engine.open();
    try {
      const store = new PostgresEventStore(database);
      // On a server, another session's open transaction holds the horizon back: an event committed after it began
      // is still above the horizon when the feed starts. It must not be handed out as news.
      const holder = engine.name === 'postgres' ? await database.connect() : undefined;
      await holder?.exec('BEGIN; SELECT pg_current_xact_id()');
      await store.append('before', [newEvent('feed.noted', { n: 0 })], 'no_stream');
      const reads = vi.spyOn(database, 'query');
      const logReads = () =>
        reads.mock.calls.filter(([text]) => String(text).includes('pg_snapshot_xmin')).length;

      const feed = commitFeed(database);
      expect(commitFeed(database)).toBe(feed); // one per database handle
      const stop = new AbortController();
      const followers = 20;
      const received: { n: number; position: LogPosition }[][] = [];
      const joinedAt: LogPosition[] = [];
      let done!: () => void;
      const allThree = new Promise<void>((resolve) => {
        done = resolve;
      });
      for (let i = 0; i < followers; i++) {
        const mine: { n: number; position: LogPosition }[] = [];
        received.push(mine);
        joinedAt.push(
          await feed.follow((events: readonly StoredEvent[]) => {
            for (const event of events)
              mine.push({ n: (event.data as { n: number }).n, position: event.position });
            if (received.every((r) => r.length >= 3)) done();
          }, stop.signal),
        );
      }
      await holder?.exec('COMMIT');
      await holder?.release();
      const readsBefore = logReads();
      for (const n of [1, 2, 3]) {
        await store.append(`s${n}`, [newEvent('feed.noted', { n })], 'no_stream');
        logSignal(database).committed(); // what a unit of work's commit does
      }
      await allThree;
      // Every follower got the three commits after it joined, in order, and nothing from before.
      for (const [i, mine] of received.entries()) {
        expect(mine.map((e) => e.n)).toEqual([1, 2, 3]);
        for (const event of mine)
          expect(comparePositions(event.position, joinedAt[i] as LogPosition)).toBeGreaterThan(0);
      }
      // One reader for twenty followers: a tail each would have read at least sixty times.
      expect(logReads() - readsBefore).toBeLessThan(followers);

      stop.abort();
      // A feed nobody follows reads nothing; the next follower starts it again, from the end of the log.
      const again = new AbortController();
      let first: (n: number) => void = () => {};
      const next = new Promise<number>((resolve) => {
        first = resolve;
      });
      // Followed from the position it returns: what commits after that reaches it.
      await feed.follow(
        (events) => first((events[0]?.data as { n: number } | undefined)?.n ?? -1),
        again.signal,
      );
      await store.append('s4', [newEvent('feed.noted', { n: 4 })], 'no_stream');
      logSignal(database).committed();
      expect(await next).toBe(4);
      again.abort();
    } finally {
      await drop();
    }
  });
});
