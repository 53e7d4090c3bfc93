import {
  createApplication,
  type DeadLetterRef,
  type Erasure,
  type LogPosition,
  Operations,
  type ProcessView,
  type RebuildOutcome,
  type Story,
  type SystemStatus,
} from '@myelin/core';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { api, auth, testModule } from '../../testing/testApi.ts';
import { issueToken } from '../devTokens.ts';
import { createServer } from '../server.ts';

/** Operations that answer from memory and record what they were asked to do. */
class RecordedOperations implements Operations {
  readonly calls: unknown[][] = [];
  reads = 0;
  async status(): Promise<SystemStatus> {
    this.reads++;
    return {
      at: new Date('2026-12-03T10:00:00Z'),
      head: '12.3' as LogPosition,
      subscriptions: [
        {
          name: 'projection:orders:v1',
          kind: 'projection',
          projection: { name: 'orders', version: 1, mode: 'async', state: 'serving' },
          position: '12.3' as LogPosition,
          lagEvents: 0,
          lagMs: 0,
          handled: 40,
          holder: 'host/42',
          retrying: 0,
          parked: 0,
        },
      ],
      actions: [],
      lastErasure: '2',
    };
  }
  async deadLetters() {
    return [];
  }
  async erasures(options: { limit?: number } = {}): Promise<readonly Erasure[]> {
    this.calls.push(['erasures', options.limit]);
    return [
      {
        id: '2',
        subject: 'customer-7',
        requestedBy: 'dpo-1',
        reason: 'ticket 4711',
        at: new Date('2026-12-03T09:30:00Z'),
        keys: 1,
        readModels: ['customers v2', 'orders v1'],
        responses: 2,
      },
      {
        id: '1',
        subject: 'customer-3',
        requestedBy: 'manager-7',
        reason: undefined,
        at: new Date('2026-12-02T17:00:00Z'),
        keys: 0,
        readModels: [],
        responses: 0,
      },
    ];
  }
  async replay(target: DeadLetterRef | 'all', actor: string): Promise<number> {
    this.calls.push(['replay', target, actor]);
    return target === 'all' ? 3 : 1;
  }
  async discard(target: DeadLetterRef | 'all', actor: string): Promise<number> {
    this.calls.push(['discard', target, actor]);
    return 1;
  }
  async rebuild(projection: string, actor: string): Promise<RebuildOutcome> {
    this.calls.push(['rebuild', projection, actor]);
    return projection === 'orders' ? 'started' : projection === 'busy' ? 'already-building' : 'not-found';
  }
  async story(correlationId: string): Promise<Story> {
    return { correlationId, causes: [], received: [] };
  }
  async processes(options: { status?: string } = {}): Promise<readonly ProcessView[]> {
    this.calls.push(['processes', options.status]);
    return [
      {
        id: 'order-watch/o1',
        version: 1,
        process: 'order-watch',
        correlation: 'o1',
        state: { stage: 'confirmed' },
        status: 'running',
        timeouts: { kitchen: '2026-12-03T10:10:00.000Z' },
        handled: ['e1'],
        startedAt: '2026-12-03T10:00:00.000Z',
        updatedAt: '2026-12-03T10:00:00.000Z',
      },
    ];
  }
}

const servers: FastifyInstance[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function consoleServer(operations = new RecordedOperations(), refreshMs = 100) {
  const app = await createApplication()
    .include(testModule)
    .singleton(Operations, () => operations)
    .build();
  const server = await createServer({
    app,
    routes: api,
    auth,
    fastify: { logger: false },
    console: { role: 'operator', refreshMs },
  });
  server.addHook('onClose', () => app.dispose());
  servers.push(server);
  const token = (roles: string[], subject = 'ops-1') =>
    issueToken(auth, { username: subject, password: '', roles }, 60);
  return { server, operations, token };
}

describe('the console', () => {
  it('serves its page and assets under a policy that allows only its own script and style', async () => {
    const { server } = await consoleServer();
    const page = await server.inject({ url: '/_myelin' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const policy = String(page.headers['content-security-policy']);
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("default-src 'none'");
    expect(policy).not.toContain('unsafe');
    expect(page.body).toContain('<script type="module" src="/_myelin/console.js">');
    expect(page.body).toContain('data-api="/_myelin/api"');
    const script = await server.inject({ url: '/_myelin/console.js' });
    expect(script.headers['content-type']).toContain('text/javascript');
    expect(script.body).toContain('EventSource');
    expect((await server.inject({ url: '/_myelin/console.css' })).statusCode).toBe(200);
  });

  it('answers only the role it names: 401 without a token or with a forged one, 403 with another role', async () => {
    const { server, token, operations } = await consoleServer();
    expect((await server.inject({ url: '/_myelin/api/status' })).statusCode).toBe(401);
    const forged = `${(await token(['operator'])).slice(0, -4)}AAAA`;
    const refused = await server.inject({
      url: '/_myelin/api/status',
      headers: { authorization: `Bearer ${forged}` },
    });
    expect(refused.statusCode).toBe(401);
    const writer = await server.inject({
      method: 'POST',
      url: '/_myelin/api/dead-letters/replay',
      headers: { authorization: `Bearer ${await token(['writer'])}` },
      payload: { all: true },
    });
    expect(writer.statusCode).toBe(403);
    expect(writer.json().detail).toContain("'operator'");
    expect(operations.calls).toEqual([]);
    const live = await server.inject({ url: `/_myelin/api/live?access_token=${await token(['writer'])}` });
    expect(live.statusCode).toBe(403);
    const ok = await server.inject({
      url: '/_myelin/api/status',
      headers: { authorization: `Bearer ${await token(['operator'])}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(ok.json().subscriptions[0]).toMatchObject({ name: 'projection:orders:v1', holder: 'host/42' });
  });

  it('lists process manager instances with their pending timeouts, to the operator only', async () => {
    const { server, token, operations } = await consoleServer();
    const as = async (roles: string[], query = '') =>
      server.inject({
        url: `/_myelin/api/processes${query}`,
        headers: { authorization: `Bearer ${await token(roles)}` },
      });
    expect((await as(['writer'])).statusCode).toBe(403);
    const listed = await as(['operator']);
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items[0]).toMatchObject({
      id: 'order-watch/o1',
      timeouts: { kitchen: '2026-12-03T10:10:00.000Z' },
    });
    const bad = await as(['operator'], '?status=%00');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('status');
    expect(operations.calls).toEqual([['processes', 'running']]);
  });

  it('lists the erasures of personal data, newest first and bounded, to the operator only', async () => {
    const { server, token, operations } = await consoleServer();
    const as = async (roles?: string[]) =>
      server.inject({
        url: '/_myelin/api/erasures',
        headers: roles === undefined ? {} : { authorization: `Bearer ${await token(roles)}` },
      });
    expect((await as()).statusCode).toBe(401);
    expect((await as(['writer'])).statusCode).toBe(403);
    expect(operations.calls).toEqual([]);
    const listed = await as(['operator']);
    expect(listed.statusCode).toBe(200);
    expect(listed.headers['cache-control']).toBe('no-store');
    expect(listed.json().items).toEqual([
      {
        id: '2',
        subject: 'customer-7',
        requestedBy: 'dpo-1',
        reason: 'ticket 4711',
        at: '2026-12-03T09:30:00.000Z',
        keys: 1,
        readModels: ['customers v2', 'orders v1'],
        responses: 2,
      },
      expect.objectContaining({ id: '1', requestedBy: 'manager-7', keys: 0 }),
    ]);
    expect(operations.calls).toEqual([['erasures', 100]]);
    // The page lists them, and reads them again when the live status names a later one.
    const page = await server.inject({ url: '/_myelin' });
    expect(page.body).toContain('id="erasures"');
    expect((await server.inject({ url: '/_myelin/console.js' })).body).toContain("call('/erasures')");
  });

  it('replays, discards and rebuilds as the signed-in operator, and names the field it cannot read', async () => {
    const { server, token, operations } = await consoleServer();
    const headers = { authorization: `Bearer ${await token(['operator'], 'manager-7')}` };
    const post = (url: string, payload?: unknown) =>
      server.inject({
        method: 'POST',
        url,
        headers,
        ...(payload === undefined ? {} : { payload: payload as object }),
      });

    const one = { subscription: 'relay:a:b', eventId: 'e-1' };
    expect((await post('/_myelin/api/dead-letters/replay', one)).json()).toEqual({ replayed: 1 });
    expect((await post('/_myelin/api/dead-letters/replay', { all: true })).json()).toEqual({ replayed: 3 });
    expect((await post('/_myelin/api/dead-letters/discard', one)).json()).toEqual({ discarded: 1 });
    const rebuilt = await post('/_myelin/api/projections/orders/rebuild');
    expect(rebuilt.statusCode).toBe(202);
    expect((await post('/_myelin/api/projections/busy/rebuild')).statusCode).toBe(409);
    expect((await post('/_myelin/api/projections/nothing/rebuild')).statusCode).toBe(404);
    expect(operations.calls).toEqual([
      ['replay', one, 'manager-7'],
      ['replay', 'all', 'manager-7'],
      ['discard', one, 'manager-7'],
      ['rebuild', 'orders', 'manager-7'],
      ['rebuild', 'busy', 'manager-7'],
      ['rebuild', 'nothing', 'manager-7'],
    ]);

    const missing = await post('/_myelin/api/dead-letters/replay', { subscription: 'relay:a:b' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors).toEqual([expect.objectContaining({ field: 'eventId' })]);
    const nul = await post('/_myelin/api/dead-letters/discard', {
      subscription: 'relay:a\u0000b',
      eventId: 'e',
    });
    expect(nul.statusCode).toBe(400);
    expect(nul.json().errors).toEqual([expect.objectContaining({ field: 'subscription' })]);
    const long = await post('/_myelin/api/dead-letters/discard', {
      subscription: 'x'.repeat(201),
      eventId: 'e',
    });
    expect(long.statusCode).toBe(400);
    expect((await post('/_myelin/api/dead-letters/replay', [1, 2])).statusCode).toBe(400);
    expect(operations.calls).toHaveLength(6);

    const story = await server.inject({ url: '/_myelin/api/stories/nobody-said-this', headers });
    expect(story.statusCode).toBe(404);
  });

  it('streams the status live, one read shared by every operator watching', async () => {
    // Reads within half the refresh interval are shared: a long interval, so a busy machine still shares.
    const { server, token, operations } = await consoleServer(new RecordedOperations(), 20_000);
    await server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.addresses()[0] as { port: number };
    const controllers = [new AbortController(), new AbortController()];
    const url = `http://127.0.0.1:${port}/_myelin/api/live?access_token=${await token(['operator'])}`;
    const responses = await Promise.all(controllers.map((c) => fetch(url, { signal: c.signal })));
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
    }
    const firstStatus = async (response: Response) => {
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('event: status')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
      return text;
    };
    const [a, b] = await Promise.all(responses.map(firstStatus));
    expect(a).toContain('"projection:orders:v1"');
    expect(b).toContain('"projection:orders:v1"');
    expect(operations.reads).toBe(1);
    for (const c of controllers) c.abort();
  });

  it('will not start without auth, or without Operations to show', async () => {
    const app = await createApplication().include(testModule).build();
    await expect(
      createServer({ app, routes: api, fastify: { logger: false }, console: { role: 'operator' } }),
    ).rejects.toThrow('console needs `auth`');
    await expect(
      createServer({ app, routes: api, auth, fastify: { logger: false }, console: { role: 'operator' } }),
    ).rejects.toThrow('no Operations');
    await app.dispose();
  });
});
