import { event, projection, table, unchecked } from '@myelin/core';

/** The event seeded: the n-th event of the log, in a stream of ten. */
export const Counted = event('bench.counted.v1', unchecked<{ n: number }>());
export const partitions = 8;
/** The CPU each event costs the projection's handler, as parsing, validating or computing a real one might. */
export const cpuMicrosPerEvent = 200;

/** Each stream's row: how many events it has had, and the last one's number (as a status read model keeps). */
const streams = table<{ stream: string; events: number; last: number }, 'stream'>('bench-partitioned', {
  columns: 'stream text PRIMARY KEY, events integer NOT NULL, last integer NOT NULL',
  key: ['stream'],
});

/** Spins the CPU for `micros` (a handler's work, which a second process can share and a faster disk cannot). */
export function work(micros: number): number {
  const until = performance.now() + micros / 1000;
  let x = 0;
  while (performance.now() < until) x++;
  return x;
}

/** The projection, partitioned, at a version: each benchmark case builds a version of its own from the log. */
export const counting = (version: number) =>
  projection(streams, { version, partitions }).on(Counted, async (e, rows, { streamId, streamVersion }) => {
    work(cpuMicrosPerEvent);
    // One write, no read: the stream's version is its count of events. Applied out of order or twice, a row
    // would end with the wrong last number; the benchmark checks every row at the end.
    await rows.upsert({ stream: streamId, events: streamVersion, last: e.n });
  });
