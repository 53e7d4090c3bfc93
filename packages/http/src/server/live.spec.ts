import { EventEmitter, on, once } from 'node:events';
import { connect } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, auth, testApplication } from '../testing/testApi.ts';
import { issueToken } from './devTokens.ts';
import type { LiveEvent, LiveLimits, LiveStream } from './live.ts';
import { myelin } from './myelinHttp.ts';

/** A reader the test collects from when it wants. */
class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** A tiny log: what was appended, and a signal for each append. */
class Changes {
  readonly items: { id: string; data: unknown }[] = [];
  readonly #emitter = new EventEmitter();
  append(data: unknown): void {
    this.items.push({ id: String(this.items.length + 1), data });
    this.#emitter.emit('appended');
  }
  stream(roles?: readonly string[]): LiveStream {
    const changes = this;
    return {
      ...(roles === undefined ? {} : { roles }),
      async *events({ lastEventId, signal }): AsyncIterable<LiveEvent> {
        let next = lastEventId === undefined ? changes.items.length : Number(lastEventId);
        const appended = on(changes.#emitter, 'appended', { signal });
        for (;;) {
          while (next < changes.items.length) {
            const item = changes.items[next++] as { id: string; data: unknown };
            yield { id: item.id, event: 'note', data: item.data };
          }
          try {
            await appended.next();
          } catch {
            return; // aborted
          }
        }
      },
    };
  }
}

const servers: FastifyInstance[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function listening(
  changes: Changes,
  liveLimits?: LiveLimits,
  more: Record<string, LiveStream> = {},
): Promise<{ server: FastifyInstance; url: string }> {
  const app = await testApplication();
  const server = Fastify();
  await server.register(myelin, {
    app,
    routes: api,
    auth,
    live: { '/live/notes': changes.stream(), '/live/secret': changes.stream(['editor']), ...more },
    ...(liveLimits === undefined ? {} : { liveLimits }),
  });
  server.addHook('onClose', () => app.dispose());
  servers.push(server);
  await server.listen({ port: 0, host: '127.0.0.1' });
  const address = server.addresses()[0] as { port: number };
  return { server, url: `http://127.0.0.1:${address.port}` };
}

/** Reads SSE frames from a response until `count` events arrived. */
async function read(
  response: Response,
  count: number,
): Promise<{ id?: string | undefined; event?: string | undefined; data: unknown }[]> {
  const events: { id?: string | undefined; event?: string | undefined; data: unknown }[] = [];
  const reader = (response.body as ReadableStream<Uint8Array>)
    .pipeThrough(new TextDecoderStream())
    .getReader();
  let buffer = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((line) => !line.startsWith(':') && line.includes(': '))
          .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
      );
      if (fields.data !== undefined)
        events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
      end = buffer.indexOf('\n\n');
    }
  }
  await reader.cancel();
  return events;
}

describe('live streams (Server-Sent Events)', () => {
  it('streams changes as they happen and resumes after the last event id on reconnection', async () => {
    const changes = new Changes();
    const { url } = await listening(changes);
    changes.append({ n: 0 }); // before the client connects: not sent to a new client
    const response = await fetch(`${url}/live/notes`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reading = read(response, 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    changes.append({ n: 1 });
    changes.append({ n: 2 });
    expect(await reading).toEqual([
      { id: '2', event: 'note', data: { n: 1 } },
      { id: '3', event: 'note', data: { n: 2 } },
    ]);

    changes.append({ n: 3 }); // while the client is away
    const resumed = await fetch(`${url}/live/notes`, { headers: { 'last-event-id': '3' } });
    expect(await read(resumed, 1)).toEqual([{ id: '4', event: 'note', data: { n: 3 } }]);
  });

  it('protects a stream by role, taking the token from the query string as EventSource cannot send headers', async () => {
    const changes = new Changes();
    const { url } = await listening(changes);
    expect((await fetch(`${url}/live/secret`)).status).toBe(401);
    const reader = await issueToken(auth, { username: 'r', password: '', roles: ['reader'] }, 60);
    expect((await fetch(`${url}/live/secret?access_token=${reader}`)).status).toBe(403);
    expect((await fetch(`${url}/live/secret?access_token=not-a-token`)).status).toBe(401);
    const editor = await issueToken(auth, { username: 'e', password: '', roles: ['editor'] }, 60);
    const response = await fetch(`${url}/live/secret?access_token=${editor}`);
    expect(response.status).toBe(200);
    const reading = read(response, 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    changes.append({ secret: true });
    expect(await reading).toEqual([{ id: '1', event: 'note', data: { secret: true } }]);
  });

  it('ends open streams when the server closes, so a graceful shutdown does not hang', async () => {
    const changes = new Changes();
    const { server, url } = await listening(changes);
    const response = await fetch(`${url}/live/notes`);
    const reading = read(response, 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    expect(await reading).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('caps open streams by client (429) and in all (503), with Retry-After, and frees a place when one closes', async () => {
    const changes = new Changes();
    const { url } = await listening(changes, { streams: 3, streamsPerClient: 2 });
    const controllers: AbortController[] = [];
    const follow = async (headers: Record<string, string> = {}) => {
      const controller = new AbortController();
      controllers.push(controller);
      return fetch(`${url}/live/notes`, { headers, signal: controller.signal });
    };
    try {
      expect((await follow()).status).toBe(200);
      expect((await follow()).status).toBe(200);
      // A third from the same address is one too many for it.
      const third = await follow();
      expect(third.status).toBe(429);
      expect(third.headers.get('content-type')).toContain('application/problem+json');
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await third.json()).toMatchObject({ status: 429, instance: '/live/notes' });
      // A signed-in subject is counted on its own, not with everyone behind its address...
      const editor = await issueToken(auth, { username: 'e', password: '', roles: ['editor'] }, 60);
      expect((await follow({ authorization: `Bearer ${editor}` })).status).toBe(200);
      // ...but the process's cap holds for everyone.
      const writer = await issueToken(auth, { username: 'w', password: '', roles: ['writer'] }, 60);
      const full = await follow({ authorization: `Bearer ${writer}` });
      expect(full.status).toBe(503);
      expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await full.json()).toMatchObject({ status: 503 });
      // A stream that closes gives its place back (once the server has seen it go).
      controllers[0]?.abort();
      let again = await follow();
      while (again.status !== 200) {
        expect(again.status).toBe(429);
        await new Promise((resolve) => setTimeout(resolve, 20));
        again = await follow();
      }
    } finally {
      for (const controller of controllers) controller.abort();
    }
  });

  it('counts the open streams for dashboards (myelin.live.streams)', async () => {
    const reader = new CollectingReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    try {
      const changes = new Changes();
      const { url } = await listening(changes);
      const open = async () => {
        const { resourceMetrics } = await reader.collect();
        const gauge = resourceMetrics.scopeMetrics
          .flatMap((scope) => scope.metrics)
          .find((m) => m.descriptor.name === 'myelin.live.streams');
        return gauge?.dataPoints[0]?.value;
      };
      expect(await open()).toBe(0);
      const controller = new AbortController();
      const first = await fetch(`${url}/live/notes`, { signal: controller.signal });
      const second = await fetch(`${url}/live/notes`, { signal: controller.signal });
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(await open()).toBe(2);
      controller.abort();
      while ((await open()) !== 0) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      metrics.disable();
    }
  });

  it('drops a client that does not read rather than buffer its stream without limit', async () => {
    const changes = new Changes();
    const { url } = await listening(changes, { bufferedBytes: 64 * 1024, streamsPerClient: 1 });
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /live/notes HTTP/1.1\r\nhost: localhost\r\naccept: text/event-stream\r\n\r\n');
    await once(socket, 'data'); // the headers: the stream is open
    socket.pause(); // and then never read again
    expect((await fetch(`${url}/live/notes`)).status).toBe(429); // it holds this address's one place
    const big = 'x'.repeat(256 * 1024);
    // Far more than the sockets' buffers hold: the server must give up on the client, not keep it all.
    let dropped = false;
    for (let i = 0; i < 400 && !dropped; i++) {
      changes.append({ i, big });
      await new Promise((resolve) => setImmediate(resolve));
      const response = await fetch(`${url}/live/notes`);
      dropped = response.status === 200; // its place is free: the server let it go
      await response.body?.cancel();
    }
    expect(dropped).toBe(true);
    // What it had not read is all it gets: the server closed its end.
    const closed = once(socket, 'close');
    socket.resume();
    await closed;
  });

  it('ends a stream when the token that opened it expires, and its reconnection must sign in again', async () => {
    const changes = new Changes();
    // One stream per subject: the fresh token's stream below opens only if the ended one gave its place back.
    const { url } = await listening(changes, { streamsPerClient: 1 });
    const editor = await issueToken(auth, { username: 'e', password: '', roles: ['editor'] }, 2);
    const expiresAt = (decodeJwt(editor).exp as number) * 1000;
    const response = await fetch(`${url}/live/secret?access_token=${editor}`);
    expect(response.status).toBe(200);
    // Nothing is appended and the lifetime is an hour: only the token's expiry can end this read.
    expect(await read(response, 1)).toEqual([]);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt - 50); // not before it (a timer may fire a little early)
    // The browser reconnects with the same token: refused, here while the verifier's leeway would still take it.
    const again = await fetch(`${url}/live/secret?access_token=${editor}`, {
      headers: { 'last-event-id': '0' },
    });
    expect(again.status).toBe(401);
    // Our refusal within the leeway, the verifier's after it (a slow machine): either way, expired.
    expect(((await again.json()) as { detail: string }).detail).toMatch(/^The token has expired/);
    changes.append({ n: 1 });
    const fresh = await issueToken(auth, { username: 'e', password: '', roles: ['editor'] }, 60);
    const resumed = await fetch(`${url}/live/secret?access_token=${fresh}`, {
      headers: { 'last-event-id': '0' },
    });
    expect(resumed.status).toBe(200);
    expect(await read(resumed, 1)).toEqual([{ id: '1', event: 'note', data: { n: 1 } }]);
  });

  it('ends every stream after its lifetime, gives its place back, and the client resumes where it was', async () => {
    const changes = new Changes();
    const lifetimeMs = 300;
    const { url } = await listening(changes, { lifetimeMs, streamsPerClient: 1 });
    changes.append({ n: 1 });
    const opened = Date.now();
    const response = await fetch(`${url}/live/notes`, { headers: { 'last-event-id': '0' } });
    expect(response.status).toBe(200);
    // What the client missed comes at once; then nothing is appended, and only the lifetime ends the read.
    expect(await read(response, 2)).toEqual([{ id: '1', event: 'note', data: { n: 1 } }]);
    // Somewhere in the lifetime's last tenth, not before (a timer may fire a little early).
    expect(Date.now() - opened).toBeGreaterThanOrEqual(lifetimeMs * 0.9 - 5);
    changes.append({ n: 2 });
    const resumed = await fetch(`${url}/live/notes`, { headers: { 'last-event-id': '1' } });
    expect(resumed.status).toBe(200); // not 429: the ended stream gave its place back
    expect(await read(resumed, 1)).toEqual([{ id: '2', event: 'note', data: { n: 2 } }]);
  });

  it('ends a stream that ignores its signal at its lifetime all the same, and gives its place back', async () => {
    let reads = 0;
    const deaf: LiveStream = {
      async *events() {
        reads++;
        await new Promise(() => {}); // a read that never answers, and never looks at the signal
      },
    };
    const { url } = await listening(
      new Changes(),
      { lifetimeMs: 300, streamsPerClient: 1 },
      { '/live/deaf': deaf },
    );
    const first = await fetch(`${url}/live/deaf`);
    expect(first.status).toBe(200);
    expect(await read(first, 1)).toEqual([]); // the response ended, with nothing in it
    const second = await fetch(`${url}/live/deaf`);
    expect(second.status).toBe(200); // not 429: the stuck stream gave its place back
    expect(await read(second, 1)).toEqual([]);
    expect(reads).toBe(2);
  });

  it('clears the lifetime timer of a stream that ends first, and never keeps the process alive with it', async () => {
    const changes = new Changes();
    const lifetimeMs = 1_234_567; // tells a stream's timer from the server's others
    const { server, url } = await listening(changes, { lifetimeMs });
    const clearTimer = globalThis.clearTimeout;
    const cleared = new EventEmitter();
    const setting = vi.spyOn(globalThis, 'setTimeout');
    vi.spyOn(globalThis, 'clearTimeout').mockImplementation((timer) => {
      clearTimer(timer);
      cleared.emit('cleared', timer);
    });
    /** Opens a stream and gives its lifetime timer. */
    const follow = async (signal?: AbortSignal) => {
      const calls = setting.mock.calls.length;
      const response = await fetch(`${url}/live/notes`, signal === undefined ? {} : { signal });
      expect(response.status).toBe(200);
      const timers = setting.mock.results
        .slice(calls)
        .filter((_, i) => {
          const delay = setting.mock.calls[calls + i]?.[1] ?? 0;
          return delay > lifetimeMs * 0.9 - 1 && delay <= lifetimeMs;
        })
        .map((result) => result.value as NodeJS.Timeout);
      expect(timers).toHaveLength(1);
      return timers[0] as NodeJS.Timeout;
    };
    const clearing = (timer: NodeJS.Timeout) =>
      new Promise<void>((resolve) => {
        const seen = (given: unknown) => {
          if (given !== timer) return;
          cleared.off('cleared', seen);
          resolve();
        };
        cleared.on('cleared', seen);
      });
    try {
      // The client goes away.
      const leaving = new AbortController();
      const first = await follow(leaving.signal);
      expect(first.hasRef()).toBe(false);
      const firstCleared = clearing(first);
      leaving.abort();
      await firstCleared;
      // The server closes.
      const second = await follow();
      expect(second.hasRef()).toBe(false);
      const secondCleared = clearing(second);
      await server.close();
      servers.splice(servers.indexOf(server), 1);
      await secondCleared;
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('refuses limits that would lift or break themselves, naming the limit', async () => {
    for (const [limits, message] of [
      [{ lifetimeMs: 0 }, 'liveLimits.lifetimeMs must be a positive whole number; got 0'],
      [{ lifetimeMs: 1.5 }, 'liveLimits.lifetimeMs must be a positive whole number; got 1.5'],
      [{ streams: Number.NaN }, 'liveLimits.streams must be a positive whole number; got NaN'],
      [{ bufferedBytes: -1 }, 'liveLimits.bufferedBytes must be a positive whole number; got -1'],
      [{ lifetimeMs: 2 ** 31 }, 'liveLimits.lifetimeMs may be at most 2147483647 ms (about 24 days)'],
    ] as const) {
      await expect(listening(new Changes(), limits)).rejects.toThrow(message);
    }
    // A configuration's unset value is no limit given: the default holds.
    await listening(new Changes(), { streams: undefined } as unknown as LiveLimits);
  });
});
