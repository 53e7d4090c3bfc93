import { ListProcesses, TestClock } from '@myelin/core';
import { progressSignal } from '@myelin/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderDto } from '../shared/dtos.ts';
import { systemPrincipal } from '../shared/roles.ts';
import { type TestServer, testServer } from '../testing/testPizzeria.ts';
import type { AlertsDto } from './contract.ts';

const minute = 60_000;
const clock = new TestClock('2026-05-01T18:00:00.000Z');
let t: TestServer;

beforeAll(async () => {
  t = await testServer({
    clock: () => clock.now(),
    scheduleClock: clock,
    workers: true,
    alerts: { kitchenMinutes: 10, deliveryMinutes: 15, staleMinutes: 60 },
  });
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

async function send(method: 'GET' | 'POST', url: string, as: string, payload?: object) {
  const response = await t.server.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload }),
    headers: { authorization: `Bearer ${await t.token(as)}` },
  });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response.json();
}

/** Until `check` holds: looked at again after each batch a runner commits (a relay, the daemon), at most 20 s. */
async function until<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  const progress = progressSignal(t.pizzeria.database);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const seen = progress.generation;
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await progress.wait(500, undefined, seen);
  }
}

const alerts = () => send('GET', '/api/alerts', 'manager') as Promise<AlertsDto>;

/** Until the order watch has taken the order's latest step (its instance at that stage). */
const watched = (orderId: string, stage: string, status = 'running') =>
  until(
    `the order watch of ${orderId} at ${stage}`,
    async () => {
      const result = await t.pizzeria.app.mediator.execute(
        new ListProcesses({ process: 'order-watch', status: status as 'running' }),
        { principal: systemPrincipal },
      );
      return result.ok ? result.data.items.find((i) => i.correlation === orderId) : undefined;
    },
    (instance) => (instance?.state as { stage?: string } | undefined)?.stage === stage,
  );

async function place(): Promise<string> {
  const order = (await send('POST', '/api/orders', 'customer', {
    customerName: 'Toad',
    customerPhone: '555 0200',
    customerAddress: 'Mushroom Kingdom',
    pizzas: [{ name: 'margherita', size: 'medium' }],
  })) as OrderDto;
  await watched(order.id, 'confirmed');
  return order.id;
}

describe('the order watch, on a clock the test moves', () => {
  it('raises the kitchen alert ten minutes after an order is placed, and starting to cook clears it', async () => {
    const id = await place();
    await clock.advance(10 * minute - 1);
    expect((await alerts()).items.filter((a) => a.orderId === id)).toEqual([]);
    await clock.advance(1);
    const raised = await until('the kitchen alert', alerts, (a) => a.items.some((x) => x.orderId === id));
    expect(raised.items.filter((a) => a.orderId === id)).toEqual([
      { orderId: id, kind: 'kitchen', since: clock.now().toISOString() },
    ]);
    await send('POST', `/api/orders/${id}/cooking`, 'chef');
    await until('the alert cleared', alerts, (a) => !a.items.some((x) => x.orderId === id));
    // Cooking in time, nothing cancels it an hour later.
    await watched(id, 'cooking');
    await clock.advance(60 * minute);
    const order = (await send('GET', `/api/orders/${id}`, 'manager')) as OrderDto;
    expect(order.status).toBe('cooking');
  });

  it('raises the delivery alert when a ready order is not out after fifteen minutes', async () => {
    const id = await place();
    await send('POST', `/api/orders/${id}/cooking`, 'chef');
    await send('POST', `/api/orders/${id}/ready`, 'chef');
    await watched(id, 'ready');
    await clock.advance(15 * minute);
    const raised = await until('the delivery alert', alerts, (a) => a.items.some((x) => x.orderId === id));
    expect(raised.items.filter((a) => a.orderId === id).map((a) => a.kind)).toEqual(['delivery']);
  });

  it('cancels an order never cooked within sixty minutes, and its customer reads why', async () => {
    const id = await place();
    await clock.advance(60 * minute);
    const cancelled = await until(
      'the stale order cancelled',
      () => send('GET', `/api/orders/${id}`, 'customer') as Promise<OrderDto>,
      (order) => order.status === 'cancelled',
    );
    expect(cancelled.cancelReason).toBe('nobody could start cooking it within 60 minutes');
    await until('its alert gone', alerts, (a) => !a.items.some((x) => x.orderId === id));
    await watched(id, 'confirmed', 'completed');
  });
});
