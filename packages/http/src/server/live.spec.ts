import { EventEmitter, on } from 'node:events';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { api, auth, testApplication } from '../testing/testApi.ts';
import { issueToken } from './devTokens.ts';
import type { LiveEvent, LiveStream } from './live.ts';
import { myelin } from './myelinHttp.ts';

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

async function listening(changes: Changes): Promise<{ server: FastifyInstance; url: string }> {
  const app = await testApplication();
  const server = Fastify();
  await server.register(myelin, {
    app,
    routes: api,
    auth,
    live: { '/live/notes': changes.stream(), '/live/secret': changes.stream(['editor']) },
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
});
