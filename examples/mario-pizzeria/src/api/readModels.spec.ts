// The async read models (kitchen queue, delivery board, statistics) after a day's orders: written by the
// projection daemon after commit, read through the API with the position of the last write (Myelin-Position),
// so that each read waits until the projections have caught up with it instead of sleeping.
import { EventRelay } from '@myelin/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderDto, StatisticsDto } from '../shared/dtos.ts';
import { fastRunners, type TestServer, testServer } from '../testing/testPizzeria.ts';

let now = new Date('2026-05-01T18:00:00.000Z');
const at = (hhmm: string) => {
  now = new Date(`2026-05-01T${hhmm}:00.000Z`);
};

let t: TestServer;
let position = '';
beforeAll(async () => {
  t = await testServer({ clock: () => now });
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

async function write(url: string, as: string | undefined, payload: object = {}): Promise<OrderDto> {
  const token = as === undefined ? undefined : await t.token(as);
  const response = await t.server.inject({
    method: 'POST',
    url,
    payload,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  expect(response.statusCode, response.body).toBeLessThan(300);
  position = String(response.headers['myelin-position']);
  return response.json() as OrderDto;
}

async function read<T>(url: string, as: string): Promise<T> {
  const response = await t.server.inject({
    method: 'GET',
    url,
    headers: { authorization: `Bearer ${await t.token(as)}`, 'myelin-position': position },
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as T;
}

const order = (pizza: string, size: string) => ({
  customerName: 'Toad',
  customerPhone: '555 0200',
  customerAddress: 'Mushroom Kingdom',
  pizzas: [{ name: pizza, size }],
});

describe('the kitchen queue, the delivery board and the statistics', () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    at('18:00');
    ids.o1 = (await write('/api/orders', 'customer', order('margherita', 'medium'))).id; // 12.99
    at('18:01');
    ids.o2 = (await write('/api/orders', 'customer', order('supreme', 'large'))).id; // 28.78
    at('18:02');
    ids.o3 = (await write('/api/orders', 'customer', order('pepperoni', 'small'))).id; // 11.99
    at('18:03');
    ids.o4 = (await write('/api/orders', 'customer', order('margherita', 'small'))).id; // 10.39
    at('18:04');
    ids.o5 = (await write('/api/orders', 'customer', order('margherita', 'medium'))).id; // 12.99
    at('18:05');
    await write(`/api/orders/${ids.o1}/cooking`, 'chef');
    at('18:06');
    await write(`/api/orders/${ids.o2}/cooking`, 'chef');
    at('18:07');
    await write(`/api/orders/${ids.o3}/cancellation`, 'manager');
    at('18:08');
    await write(`/api/orders/${ids.o4}/cooking`, 'chef');
    at('18:11');
    await write(`/api/orders/${ids.o2}/ready`, 'chef'); // 10 minutes after it was placed
    at('18:20');
    await write(`/api/orders/${ids.o1}/ready`, 'chef'); // 20 minutes
    at('18:25');
    await write(`/api/orders/${ids.o1}/delivery`, 'driver');
    at('18:40');
    await write(`/api/orders/${ids.o1}/delivered`, 'driver');
  });

  it('queues the confirmed and cooking orders for the kitchen, oldest first', async () => {
    const queue = await read<{ items: OrderDto[] }>('/api/kitchen/queue', 'chef');
    expect(queue.items.map((o) => [o.id, o.status])).toEqual([
      [ids.o4, 'cooking'],
      [ids.o5, 'confirmed'],
    ]);
    expect(queue.items[0]).toMatchObject({ chef: 'chef', customerAddress: 'Mushroom Kingdom' });
  });

  it('shows the ready and delivering orders on the delivery board, with where they go', async () => {
    const board = await read<{ items: OrderDto[] }>('/api/delivery/ready', 'driver');
    expect(board.items.map((o) => [o.id, o.status])).toEqual([[ids.o2, 'ready']]);
    expect(board.items[0]).toMatchObject({ customerAddress: 'Mushroom Kingdom', total: 28.78 });
  });

  it("gives the manager the day's numbers", async () => {
    const stats = await read<StatisticsDto>('/api/stats', 'manager');
    expect(stats).toEqual({
      ordersByStatus: { confirmed: 1, cooking: 1, ready: 1, delivering: 0, delivered: 1, cancelled: 1 },
      revenue: 65.15, // 12.99 + 28.78 + 10.39 + 12.99: not the cancelled pepperoni
      topPizzas: [
        { name: 'Margherita', count: 3 },
        { name: 'Supreme', count: 1 },
      ],
      averageMinutesToReady: 15,
      revenueByDay: [{ day: '2026-05-01', revenue: 65.15 }],
    });
  });

  it("counts the customer's delivered orders: a reaction the event relay delivers after commit", async () => {
    const { app, database } = t.pizzeria;
    const delivered = async () =>
      (
        await database.query<{ state: { deliveredOrders: number } }>(
          `SELECT state FROM ${database.schema}.documents WHERE collection = 'Customer'`,
        )
      ).rows[0]?.state.deliveredOrders;
    expect(await delivered()).toBe(0); // no relay yet: reactions run after commit, not in the command
    const relay = new EventRelay(app, database, fastRunners).start();
    try {
      const deadline = Date.now() + 10_000;
      while ((await delivered()) !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await delivered()).toBe(1);
    } finally {
      await relay.stop();
    }
  });
});
