// What every implementation of the append benchmark runs: the same events, the same streams, the same loop.
import { randomUUID } from 'node:crypto';
import type { NewEvent } from '@myelin/core';
import pg from 'pg';

/** The database every implementation writes to; trust authentication, as on a developer's machine and in CI. */
export const connectionString = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Connections each implementation's pool may open: the same for all, so none gets more parallelism. */
export const poolSize = 16;

/**
 * Appends a writer makes to one stream before it starts a new one. Aggregates have short streams, so one append in
 * this many creates its stream (expected version 'no stream'), and streams stay 10 (or 100) events long.
 */
export const appendsPerStream = 10;

/** One way of appending events to a stream, as the benchmark drives it. */
export interface Appender {
  /**
   * Appends `events` to `streamId`, which must be at `expectedVersion` (0: the stream does not exist yet).
   * Rejects when it is not, with an error `isConflict` recognizes.
   */
  append(streamId: string, events: readonly NewEvent[], expectedVersion: number): Promise<void>;
  /** True for the error `append` rejects with on a version conflict. */
  isConflict(error: unknown): boolean;
  /** Empties the implementation's tables, so that every case starts from the same (empty) database. */
  reset(): Promise<void>;
  /** How many events its tables hold, to check that every append counted was stored. */
  count(): Promise<number>;
  close(): Promise<void>;
}

/** The type of the command path's event, the same by hand and through Myelin. */
export const depositedType = 'bench.account.deposited.v1';

/** One side of the command-path measurement: one command per operation. */
export interface CommandSubject {
  readonly operation: Operation;
  close(): Promise<void>;
}

/** One writer (or caller): the streams it owns, one after the other, and where its current one is. */
export interface Writer {
  readonly prefix: string;
  stream: number;
  version: number;
  appends: number;
}

/** `count` writers, each with streams of its own: no two writers ever append to the same stream. */
export function createWriters(prefix: string, count: number): Writer[] {
  return Array.from({ length: count }, (_, index) => ({
    prefix: `${prefix}-w${index}`,
    stream: 0,
    version: 0,
    appends: 0,
  }));
}

/** The stream the writer's next append goes to, starting a new stream when the current one is full. */
export function nextStream(writer: Writer): string {
  if (writer.appends === appendsPerStream) {
    writer.stream++;
    writer.version = 0;
    writer.appends = 0;
  }
  return `${writer.prefix}-${writer.stream}`;
}

/** Records a successful append of `events` events to the writer's current stream. */
export function appended(writer: Writer, events: number): void {
  writer.version += events;
  writer.appends++;
}

const skus = ['margherita-l', 'pepperoni-m', 'supreme-s', 'quattro-formaggi-l'];

/**
 * An order-placed event of about 200 bytes of JSON, with fresh ids. All events of one append share the correlation
 * and causation ids, as the events one command raises do.
 */
export function orderPlaced(correlationId: string, causationId: string, index: number): NewEvent {
  return {
    data: {
      orderId: randomUUID(),
      customerId: randomUUID(),
      items: [
        { sku: skus[index % skus.length], quantity: 2, priceCents: 1299 },
        { sku: skus[(index + 1) % skus.length], quantity: 1, priceCents: 1499 },
      ],
      totalCents: 4097,
      currency: 'EUR',
    },
    metadata: {
      eventId: randomUUID(),
      type: 'order.placed',
      version: 1,
      occurredAt: new Date(),
      correlationId,
      causationId,
      principal: 'user-42',
    },
  };
}

/** The events of one append: `count` order-placed events raised by one command. */
export function orderEvents(count: number): NewEvent[] {
  const correlationId = randomUUID();
  const causationId = randomUUID();
  return Array.from({ length: count }, (_, index) => orderPlaced(correlationId, causationId, index));
}

/** One operation of one worker; resolves to the units (events, commands) it completed. */
export type Operation = (worker: Writer) => Promise<number>;

/** What one timed run gave. */
export interface Run {
  /** Units per second over the run, from its start until its last operation finished. */
  readonly rate: number;
  readonly units: number;
}

/**
 * Runs every worker's loop concurrently until `ms` have passed; each worker awaits each operation before the next.
 * The last operations end after the deadline, so the rate is over the time until they did.
 */
export async function runFor(workers: readonly Writer[], operation: Operation, ms: number): Promise<Run> {
  const started = performance.now();
  const deadline = started + ms;
  let units = 0;
  await Promise.all(
    workers.map(async (worker) => {
      while (performance.now() < deadline) {
        // Not `units += await …`, which would read `units` before the await and lose the other workers' counts.
        const done = await operation(worker);
        units += done;
      }
    }),
  );
  const elapsed = performance.now() - started;
  return { rate: (units * 1000) / elapsed, units };
}

/** An append operation over `appender`: `eventsPerAppend` fresh events to the worker's current stream. */
export function appendOperation(appender: Appender, eventsPerAppend: number): Operation {
  return async (writer) => {
    const streamId = nextStream(writer);
    await appender.append(streamId, orderEvents(eventsPerAppend), writer.version);
    appended(writer, eventsPerAppend);
    return eventsPerAppend;
  };
}

/**
 * Checks that an appender stores what it is given and enforces the expected version: a second append to a new
 * stream and an append at a wrong version must both be rejected as conflicts.
 */
export async function checkAppender(name: string, appender: Appender): Promise<void> {
  const streamId = `check-${randomUUID()}`;
  await appender.append(streamId, orderEvents(2), 0);
  for (const expected of [0, 1, 3]) {
    const outcome = await appender.append(streamId, orderEvents(1), expected).then(
      () => 'stored',
      (error: unknown) => (appender.isConflict(error) ? 'conflict' : error),
    );
    if (outcome !== 'conflict') {
      throw new Error(`${name}: an append to a stream at version 2 expecting ${expected} was not refused`, {
        cause: outcome,
      });
    }
  }
  await appender.append(streamId, orderEvents(1), 2);
}

/**
 * Counts the statements (each one round trip) `work` sends through `pg`, which all three implementations use: every
 * query goes through `Client.prototype.query`, whether it was sent by a pool or by a client.
 */
export async function countStatements(work: () => Promise<void>): Promise<number> {
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  let statements = 0;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    statements++;
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    prototype.query = original;
  }
  return statements;
}
