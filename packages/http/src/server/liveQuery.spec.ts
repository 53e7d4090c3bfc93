// A query followed live by many browsers: one change feed, one listener per distinct answer, one read per change
// that concerns it. The feed is driven by hand here; @myelin/postgres's commitFeed is tested on a real database.
import type {
  Application,
  ChangeFeed,
  ChangeListener,
  LogPosition,
  Mediator,
  StoredEvent,
} from '@myelin/core';
import { logPosition } from '@myelin/core';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { api, auth, EditNote, GetNote, testApplication, WriteNote } from '../testing/testApi.ts';
import { type LiveQuery, liveQuery } from './liveQuery.ts';
import { createServer } from './server.ts';

/** A change feed whose commits the test makes. */
class ManualFeed implements ChangeFeed {
  readonly listeners = new Set<ChangeListener>();
  #position = 1;
  async follow(listener: ChangeListener, signal: AbortSignal): Promise<LogPosition> {
    this.listeners.add(listener);
    signal.addEventListener('abort', () => this.listeners.delete(listener), { once: true });
    return logPosition(this.#position, 0);
  }
  commit(type: string, data: unknown): void {
    const position = logPosition(++this.#position, 0);
    const event: StoredEvent = {
      data,
      metadata: {
        eventId: position,
        type,
        version: 1,
        occurredAt: new Date(),
        correlationId: 'c',
        causationId: undefined,
        principal: undefined,
      },
      streamId: 'notes',
      streamVersion: this.#position,
      position,
    };
    for (const listener of this.listeners) listener([event], position);
  }
}

const written = 'test.note.written.v1';
const writer = { subject: 'w', roles: ['writer'] };

let server: FastifyInstance | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The test application, counting the reads of a note it executes. */
async function countingApplication(): Promise<{ app: Application; reads: () => number }> {
  const app = await testApplication();
  let reads = 0;
  const mediator = Object.create(app.mediator, {
    execute: {
      value: (...args: Parameters<Mediator['execute']>) => {
        if (args[0] instanceof GetNote) reads++;
        return app.mediator.execute(...args);
      },
    },
  }) as Mediator;
  return { app: Object.create(app, { mediator: { value: mediator } }) as Application, reads: () => reads };
}

/** A server with one live query, `/live/notes/{id}`, on the feed; its base URL. */
async function serve(app: Application, feed: ChangeFeed, extra: Partial<LiveQuery>): Promise<string> {
  server = await createServer({
    app,
    routes: api,
    auth,
    fastify: { logger: false },
    live: {
      '/live/notes/{id}': liveQuery(app, feed, {
        event: 'note',
        types: [written],
        query: (params) => new GetNote({ id: params.id ?? '' }),
        ...extra,
      }),
    },
    liveLimits: { streamsPerClient: 100 },
  });
  return server.listen({ port: 0, host: '127.0.0.1' });
}

/** An SSE stream's events, one at a time. */
async function follow(url: string) {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  expect(response.status).toBe(200);
  const reader = (response.body as ReadableStream<Uint8Array>)
    .pipeThrough(new TextDecoderStream())
    .getReader();
  let buffer = '';
  return {
    async next(): Promise<{ id?: string; event?: string; data: { text?: string } }> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map(
            block
              .split('\n')
              .filter((line) => line.includes(': ') && !line.startsWith(':'))
              .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
          );
          const data = fields.get('data');
          if (data === undefined) continue;
          return { id: fields.get('id'), event: fields.get('event'), data: JSON.parse(data) } as never;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffer += value;
      }
    },
    close: () => controller.abort(),
  };
}

describe('liveQuery', () => {
  it('shares one feed listener and one read per change among the followers of the same thing', async () => {
    const { app, reads } = await countingApplication();
    for (const id of ['a', 'b']) {
      expect(
        (
          await app.mediator.execute(new WriteNote({ id, text: `${id}1`, author: 'w' }), {
            principal: writer,
          })
        ).ok,
      ).toBe(true);
    }
    const feed = new ManualFeed();
    const base = await serve(app, feed, {
      concerns: (event, params) => (event.data as { id: string }).id === params.id,
    });
    const before = reads();

    const onA = await Promise.all(Array.from({ length: 30 }, () => follow(`${base}/live/notes/a`)));
    const onB = await Promise.all(Array.from({ length: 5 }, () => follow(`${base}/live/notes/b`)));
    try {
      for (const stream of onA)
        expect(await stream.next()).toMatchObject({ event: 'note', data: { text: 'a1' } });
      for (const stream of onB)
        expect(await stream.next()).toMatchObject({ event: 'note', data: { text: 'b1' } });
      // Thirty-five streams showing two things: two listeners on the feed, and two reads.
      expect(feed.listeners.size).toBe(2);
      expect(reads() - before).toBe(2);

      // A change to a: one read, and every follower of a gets it.
      await app.mediator.execute(new EditNote({ id: 'a', text: 'a2' }), { principal: writer });
      feed.commit(written, { id: 'a' });
      for (const stream of onA) expect(await stream.next()).toMatchObject({ data: { text: 'a2' } });
      expect(reads() - before).toBe(3);

      // An event of another type, or about another note, costs no read.
      feed.commit('test.something.else.v1', { id: 'b' });
      feed.commit(written, { id: 'c' });
      expect(reads() - before).toBe(3);

      // b's followers got nothing until b changed: their next event is b's change.
      await app.mediator.execute(new EditNote({ id: 'b', text: 'b2' }), { principal: writer });
      feed.commit(written, { id: 'b' });
      for (const stream of onB) expect(await stream.next()).toMatchObject({ data: { text: 'b2' } });
      expect(reads() - before).toBe(4);
    } finally {
      for (const stream of [...onA, ...onB]) stream.close();
    }
    // When the last follower of a thing leaves, its listener leaves the feed.
    while (feed.listeners.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  });

  it('tells a refused or unknown read as a problem event, and a late follower gets the state at once', async () => {
    const { app, reads } = await countingApplication();
    const feed = new ManualFeed();
    const base = await serve(app, feed, {});
    const unknown = await follow(`${base}/live/notes/nope`);
    expect(await unknown.next()).toMatchObject({ event: 'problem', data: { status: 404 } });
    await expect(unknown.next()).rejects.toThrow('the stream ended');

    await app.mediator.execute(new WriteNote({ id: 'n', text: 'n1', author: 'w' }), { principal: writer });
    const first = await follow(`${base}/live/notes/n`);
    expect(await first.next()).toMatchObject({ data: { text: 'n1' } });
    const readsBefore = reads();
    const late = await follow(`${base}/live/notes/n`);
    expect(await late.next()).toMatchObject({ data: { text: 'n1' } });
    expect(reads()).toBe(readsBefore); // the state the group holds, not a read of its own
    first.close();
    late.close();
  });
});
