// Live updates over a real socket: the server listens on a free port and the test reads the Server-Sent Events
// with fetch, as a browser's EventSource would, while the order changes through the API.
import { comparePositions, isLogPosition, type LogPosition } from '@myelin/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderDto } from '../shared/dtos.ts';
import { type TestServer, testServer } from '../testing/testPizzeria.ts';

let t: TestServer;
let base = '';
beforeAll(async () => {
  t = await testServer();
  base = await t.server.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

interface ServerSentEvent {
  readonly id?: string;
  readonly event?: string;
  readonly data: unknown;
}

/** Opens an SSE stream and hands out its events one by one (each within a bounded wait). */
async function open(path: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(`${base}${path}`, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return {
    response,
    async next(timeoutMs = 10_000): Promise<ServerSentEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue; // a comment (heartbeat) or nothing
            fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
          }
          const data = fields.get('data');
          if (data === undefined) continue; // `retry:` and the like
          const id = fields.get('id');
          const event = fields.get('event');
          return {
            ...(id === undefined ? {} : { id }),
            ...(event === undefined ? {} : { event }),
            data: JSON.parse(data),
          };
        }
        if (reader === undefined) throw new Error('no body');
        const timer = new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`no event in ${timeoutMs} ms`)),
            Math.max(0, deadline - Date.now()),
          ),
        );
        const chunk = await Promise.race([reader.read(), timer]);
        if (chunk.done) throw new Error('the stream ended');
        buffer += chunk.value;
      }
    },
    close: () => controller.abort(),
  };
}

async function post(path: string, body: object, as?: string): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (as !== undefined) headers.authorization = `Bearer ${await t.token(as)}`;
  const response = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

const anOrder = {
  customerName: 'Yoshi',
  customerPhone: '555 0300',
  pizzas: [{ name: 'veggie', size: 'large' }],
};

describe('live updates', () => {
  it('follows one order: its current state first, then each change, and the current state again on reconnection', async () => {
    const { accessKey, ...placed } = (await post('/api/orders', anOrder)).json as OrderDto;
    // Without its key, someone else's order is as unknown as one that does not exist.
    const stranger = await open(`/api/orders/${placed.id}/live`);
    try {
      expect(await stranger.next()).toMatchObject({ event: 'problem', data: { status: 404 } });
    } finally {
      stranger.close();
    }
    const stream = await open(`/api/orders/${placed.id}/live?key=${accessKey}`);
    try {
      expect(stream.response.status).toBe(200);
      expect(stream.response.headers.get('content-type')).toContain('text/event-stream');
      const first = await stream.next();
      expect(first).toMatchObject({ event: 'order', data: placed });
      expect(first.id).toMatch(/^\d+\.\d+$/);

      const cooking = await post(`/api/orders/${placed.id}/cooking`, {}, 'chef');
      expect(cooking.status).toBe(200);
      const changed = await stream.next();
      expect(changed).toMatchObject({
        event: 'order',
        data: { id: placed.id, status: 'cooking', chef: 'chef' },
      });
      expect(changed.id).toMatch(/^\d+\.\d+$/);

      // Another order's change is not this stream's business; this order's next one is.
      await post('/api/orders', anOrder);
      await post(`/api/orders/${placed.id}/ready`, {}, 'chef');
      expect(await stream.next()).toMatchObject({ data: { id: placed.id, status: 'ready' } });

      // A browser that reconnects gets the current state, which holds every change it missed, at a position
      // no older than the last id it saw.
      const resumed = await open(`/api/orders/${placed.id}/live?key=${accessKey}`, {
        'last-event-id': String(changed.id),
      });
      try {
        const current = await resumed.next();
        expect(current).toMatchObject({ event: 'order', data: { status: 'ready' } });
        expect(isLogPosition(current.id) && isLogPosition(changed.id)).toBe(true);
        expect(comparePositions(current.id as LogPosition, changed.id as LogPosition)).toBeGreaterThan(0);
      } finally {
        resumed.close();
      }
    } finally {
      stream.close();
    }
  });

  it('tells an unknown order as a problem event', async () => {
    const stream = await open('/api/orders/4a0a0a0a-0000-4000-8000-000000000000/live');
    try {
      expect(await stream.next()).toMatchObject({ event: 'problem', data: { status: 404 } });
    } finally {
      stream.close();
    }
  });

  it("updates the kitchen's queue as orders arrive, for chefs and managers only", async () => {
    expect((await fetch(`${base}/api/kitchen/live`)).status).toBe(401);
    const driver = await t.token('driver');
    expect((await fetch(`${base}/api/kitchen/live?access_token=${driver}`)).status).toBe(403);

    const stream = await open(`/api/kitchen/live?access_token=${await t.token('chef')}`);
    try {
      const first = await stream.next();
      expect(first.event).toBe('queue');
      const before = (first.data as { items: OrderDto[] }).items.length;
      const placed = (await post('/api/orders', anOrder)).json as OrderDto;
      const next = await stream.next();
      const items = (next.data as { items: OrderDto[] }).items;
      expect(items).toHaveLength(before + 1);
      expect(items.at(-1)).toMatchObject({ id: placed.id, status: 'confirmed', customerName: 'Yoshi' });
    } finally {
      stream.close();
    }
  });

  it('updates the delivery board and the statistics', async () => {
    const manager = await t.token('manager');
    const board = await open(`/api/delivery/live?access_token=${manager}`);
    const stats = await open(`/api/stats/live?access_token=${manager}`);
    try {
      expect((await board.next()).event).toBe('board');
      const before = (await stats.next()).data as { ordersByStatus: { ready: number } };
      const placed = (await post('/api/orders', anOrder)).json as OrderDto;
      await post(`/api/orders/${placed.id}/cooking`, {}, 'chef');
      await post(`/api/orders/${placed.id}/ready`, {}, 'chef');
      const latest = (await board.next()).data as { items: OrderDto[] };
      expect(latest.items.map((o) => o.id)).toContain(placed.id);
      // The statistics follow every change of every order; the last of these three shows it ready.
      let numbers = before;
      while (numbers.ordersByStatus.ready !== before.ordersByStatus.ready + 1) {
        numbers = (await stats.next()).data as typeof before;
      }
    } finally {
      board.close();
      stats.close();
    }
  });
});
