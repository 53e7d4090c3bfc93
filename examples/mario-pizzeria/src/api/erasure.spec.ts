// Erasing a customer at their request, through the API on an in-memory PGlite with the projections, the relay and
// the scheduler running: only a manager may; afterwards staff still see the customer's orders with their details
// erased, the statistics still count them, and the customer's own order pages answer 404, as for a stranger.
import { EventStore, erased } from '@myelin/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryBoard } from '../delivery/deliveryBoard.ts';
import { type OrderEvent, orderEvents } from '../domain/orderEvents.ts';
import { kitchenQueue } from '../kitchen/kitchenQueue.ts';
import { orderSummaries } from '../orders/orderSummaries.ts';
import type { OrderDto, OrderPageDto, StatisticsDto } from '../shared/dtos.ts';
import { evolveSummary } from '../shared/orderSummary.ts';
import type { OrderSummary } from '../shared/views.ts';
import { type CallOptions, type Method, type TestServer, testServer } from '../testing/testPizzeria.ts';

let t: TestServer;
/** The log position of the last write: reads of the async read models wait until they have caught up with it. */
let position = '';
beforeAll(async () => {
  t = await testServer({ workers: true });
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

/** A call that succeeds with `status`, remembering where its write is in the log; answers its body. */
async function expectStatus<T>(status: number, method: Method, url: string, options: CallOptions = {}) {
  const response = await t.call(method, url, {
    ...options,
    headers: { ...(position === '' ? {} : { 'myelin-position': position }), ...options.headers },
  });
  expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(status);
  const written = response.headers['myelin-position'];
  if (method !== 'GET' && typeof written === 'string') position = written;
  return (response.body === '' ? undefined : response.json()) as T;
}

const peach = {
  customerName: 'Peach Toadstool',
  customerPhone: '+1 555 0101',
  customerAddress: '1 Castle Road',
  customerEmail: 'peach@castle.example',
  pizzas: [{ name: 'margherita', size: 'large', toppings: ['basil'] }],
  notes: 'Ring twice',
};
const daisy = {
  customerName: 'Daisy',
  customerPhone: '555 0199',
  pizzas: [{ name: 'diavola', size: 'small' }],
};

const step = (id: string, path: string, as: string, payload: object = {}) =>
  expectStatus<OrderDto>(200, 'POST', `/api/orders/${id}/${path}`, { as, payload });

/** What the order summaries hold of an order, as stored. */
async function storedSummary(id: string): Promise<OrderSummary | undefined> {
  const { rows } = await t.pizzeria.database.query<{ doc: OrderSummary }>(
    `SELECT doc FROM ${t.pizzeria.database.schema}.read_documents WHERE model = $1 AND id = $2`,
    [`order-summaries@${orderSummaries.version}`, id],
  );
  return rows[0]?.doc;
}

/** The summary a rebuild would write now: the order's events, as the log reads them, folded. */
async function rebuiltSummary(id: string): Promise<OrderSummary | undefined> {
  const events = await t.pizzeria.app.container.root.resolve(EventStore).readStream(`Order-${id}`);
  expect(events.length).toBeGreaterThan(0);
  let summary: OrderSummary | undefined;
  for (const stored of events) {
    const definition = orderEvents.find((candidate) => candidate.type === stored.metadata.type);
    if (definition === undefined) throw new Error(`not an order event: ${stored.metadata.type}`);
    summary = evolveSummary(summary, new definition(stored.data as never) as OrderEvent, stored);
  }
  return summary;
}

describe('erasing a customer', () => {
  const mine: Record<'delivered' | 'cooking' | 'ready', OrderDto> = {} as never;
  let guest: OrderDto & { accessKey: string };
  let statsBefore: StatisticsDto;

  beforeAll(async () => {
    // The signed-in customer: one order delivered, one in the kitchen, one on the delivery board. The first is
    // sent with an Idempotency-Key, whose kept answer repeats their details.
    const idempotent = { 'idempotency-key': 'peach-first-order' };
    mine.delivered = await expectStatus(201, 'POST', '/api/orders', {
      as: 'customer',
      payload: peach,
      headers: idempotent,
    });
    mine.cooking = await expectStatus(201, 'POST', '/api/orders', { as: 'customer', payload: peach });
    mine.ready = await expectStatus(201, 'POST', '/api/orders', { as: 'customer', payload: peach });
    for (const path of ['cooking', 'ready', 'delivery', 'delivered'] as const)
      await step(mine.delivered.id, path, path === 'cooking' || path === 'ready' ? 'chef' : 'driver');
    await step(mine.cooking.id, 'cooking', 'chef');
    await step(mine.ready.id, 'cooking', 'chef');
    await step(mine.ready.id, 'ready', 'chef');
    // Someone else, without signing in.
    guest = await expectStatus(201, 'POST', '/api/orders', { payload: daisy });
    statsBefore = await expectStatus<StatisticsDto>(200, 'GET', '/api/stats', { as: 'manager' });
    expect(statsBefore.ordersByStatus).toMatchObject({ delivered: 1, cooking: 1, ready: 1, confirmed: 1 });
  });

  it('is for managers only: 401 without a token, 403 for the customer themself and for other staff', async () => {
    const url = `/api/customers/${mine.delivered.customerId}`;
    expect(mine.delivered.customerId).toBe('customer-customer'); // the development customer's token subject
    await expectStatus(401, 'DELETE', url);
    for (const as of ['customer', 'chef', 'driver']) await expectStatus(403, 'DELETE', url, { as });
    await expectStatus(200, 'GET', `/api/orders/${mine.delivered.id}`, { as: 'customer' }); // untouched
  });

  it('answers 404 for a customer who never ordered, and 400 for what is no customer id', async () => {
    await expectStatus(404, 'DELETE', '/api/customers/customer-nobody', { as: 'manager' });
    await expectStatus(404, 'DELETE', `/api/customers/guest-${crypto.randomUUID()}`, { as: 'manager' });
    const refused = await t.call('DELETE', '/api/customers/peach', { as: 'manager' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors[0].field).toBe('customerId');
  });

  it('erases them: staff see their orders with the details erased, the statistics are unchanged, they see none', async () => {
    await expectStatus(204, 'DELETE', `/api/customers/${mine.delivered.customerId}?reason=ticket%2042`, {
      as: 'manager',
    });

    const erasedDetails = {
      customerId: 'customer-customer',
      customerName: erased,
      customerPhone: erased,
      customerAddress: erased,
      customerEmail: erased,
      notes: erased,
    };
    for (const order of Object.values(mine)) {
      // Their own page is gone, as a stranger's order would be.
      await expectStatus(404, 'GET', `/api/orders/${order.id}`, { as: 'customer' });
      // Staff still see the order, with what it was and where it is, and nothing of whom.
      const seen = await expectStatus<OrderDto>(200, 'GET', `/api/orders/${order.id}`, { as: 'manager' });
      expect(seen).toMatchObject({ ...erasedDetails, id: order.id, total: order.total, items: order.items });
      // What the erasure hook left is what a rebuild from the log would write now.
      expect(await storedSummary(order.id)).toEqual(await rebuiltSummary(order.id));
    }
    const queue = await expectStatus<OrderPageDto>(200, 'GET', '/api/kitchen/queue?pageSize=200', {
      as: 'chef',
    });
    expect(queue.items.find((order) => order.id === mine.cooking.id)).toMatchObject(erasedDetails);
    const board = await expectStatus<OrderPageDto>(200, 'GET', '/api/delivery/ready?pageSize=200', {
      as: 'driver',
    });
    expect(board.items.find((order) => order.id === mine.ready.id)).toMatchObject(erasedDetails);
    const list = await expectStatus<OrderPageDto>(200, 'GET', '/api/orders?pageSize=100', { as: 'manager' });
    expect(list.items.filter((order) => order.customerName === erased)).toHaveLength(3);
    expect(await expectStatus(200, 'GET', '/api/stats', { as: 'manager' })).toEqual(statsBefore);

    // Their orders go on: the kitchen finishes the one it was cooking.
    expect(await step(mine.cooking.id, 'ready', 'chef')).toMatchObject({ status: 'ready', ...erasedDetails });
    // Someone else's order is untouched.
    const daisys = await expectStatus<OrderDto>(200, 'GET', `/api/orders/${guest.id}?key=${guest.accessKey}`);
    expect(daisys).toMatchObject({ customerName: 'Daisy', customerPhone: '555 0199' });

    // The record names who asked, why, and what was reached; the kept answer to their idempotent request is gone.
    const { rows } = await t.pizzeria.database.query(
      `SELECT subject, requested_by, reason, keys, read_models, responses FROM ${t.pizzeria.database.schema}.erasures`,
    );
    expect(rows).toEqual([
      {
        subject: 'customer-customer',
        requested_by: 'manager',
        reason: 'ticket 42',
        keys: 1,
        read_models: [deliveryBoard, kitchenQueue, orderSummaries].map((p) => `${p.name} v${p.version}`),
        responses: 1,
      },
    ]);
    // Their profile is gone.
    const profile = await t.pizzeria.database.query(
      `SELECT 1 FROM ${t.pizzeria.database.schema}.documents WHERE id = 'customer-customer'`,
    );
    expect(profile.rows).toEqual([]);
  });

  it('lets the customer come back as new: a new profile, their new orders theirs, the erased ones still not', async () => {
    const again = await expectStatus<OrderDto>(201, 'POST', '/api/orders', {
      as: 'customer',
      payload: { ...peach, customerName: 'Peach again' },
    });
    expect(await expectStatus(200, 'GET', `/api/orders/${again.id}`, { as: 'customer' })).toMatchObject({
      customerName: 'Peach again',
      customerAddress: peach.customerAddress,
    });
    await expectStatus(404, 'GET', `/api/orders/${mine.delivered.id}`, { as: 'customer' });
  });

  it('erases a customer whose user id is as long as OpenID Connect allows, and refuses a reason with hidden characters', async () => {
    const subject = `${'ü'.repeat(200)}${'x'.repeat(55)}`;
    const token = await t.tokenOf(subject, ['customer']);
    const placed = await expectStatus<OrderDto>(201, 'POST', '/api/orders', {
      token,
      payload: { ...daisy, customerName: 'Rosalina' },
    });
    expect(placed.customerId).toBe(`customer-${subject}`);
    const url = `/api/customers/${encodeURIComponent(placed.customerId)}`;
    const hidden = await t.call('DELETE', `${url}?reason=${encodeURIComponent('ticket\u001b[2J 42')}`, {
      as: 'manager',
    });
    expect(hidden.statusCode).toBe(400);
    expect(hidden.json().errors[0].field).toBe('reason');
    await expectStatus(204, 'DELETE', `${url}?reason=ticket%2043`, { as: 'manager' });
    await expectStatus(404, 'GET', `/api/orders/${placed.id}`, { token });
  });

  it("erases a guest's order by its own subject, and that order alone", async () => {
    const other = await expectStatus<OrderDto & { accessKey: string }>(201, 'POST', '/api/orders', {
      payload: { ...daisy, customerName: 'Wario' },
    });
    expect(guest.customerId).toBe(`guest-${guest.id}`);
    await expectStatus(204, 'DELETE', `/api/customers/${guest.customerId}`, { as: 'manager' });
    await expectStatus(404, 'GET', `/api/orders/${guest.id}?key=${guest.accessKey}`);
    expect(await expectStatus(200, 'GET', `/api/orders/${guest.id}`, { as: 'chef' })).toMatchObject({
      customerName: erased,
      customerPhone: erased,
    });
    expect(await storedSummary(guest.id)).toEqual(await rebuiltSummary(guest.id));
    expect(await expectStatus(200, 'GET', `/api/orders/${other.id}?key=${other.accessKey}`)).toMatchObject({
      customerName: 'Wario',
    });
  });

  it("forgets the answer kept for a staff step with an Idempotency-Key, which showed the customer's details", async () => {
    const order = { ...daisy, customerName: 'Pauline', customerPhone: '+1 555 0188' };
    const placed = await expectStatus<OrderDto>(201, 'POST', '/api/orders', { payload: order });
    const headers = { 'idempotency-key': 'pauline-cooking' };
    const cooking = await t.call('POST', `/api/orders/${placed.id}/cooking`, { as: 'chef', headers });
    expect(cooking.statusCode).toBe(200);
    expect(cooking.json()).toMatchObject({ customerName: 'Pauline' });
    const repeated = await t.call('POST', `/api/orders/${placed.id}/cooking`, { as: 'chef', headers });
    expect(repeated.headers['idempotent-replayed']).toBe('true');
    await expectStatus(204, 'DELETE', `/api/customers/${placed.customerId}`, { as: 'manager' });
    // The chef's kept answer held Pauline's name and phone: gone, the repeat runs again (the order is cooking now).
    const after = await t.call('POST', `/api/orders/${placed.id}/cooking`, { as: 'chef', headers });
    expect(after.headers['idempotent-replayed']).toBeUndefined();
    expect(after.statusCode).toBe(409);
    expect(after.body).not.toContain('Pauline');
  });

  it("forgets the answer kept for a guest's order sent with an Idempotency-Key, though its scope names no one", async () => {
    const headers = { 'idempotency-key': 'rosalina-order' };
    const order = { ...daisy, customerName: 'Rosalina', customerPhone: '+1 555 0177' };
    const placed = await t.call('POST', '/api/orders', { payload: order, headers });
    expect(placed.statusCode).toBe(201);
    const first = placed.json() as OrderDto;
    const repeated = await t.call('POST', '/api/orders', { payload: order, headers });
    expect(repeated.headers['idempotent-replayed']).toBe('true');
    expect(repeated.json()).toMatchObject({ id: first.id, customerName: 'Rosalina' });
    await expectStatus(204, 'DELETE', `/api/customers/${first.customerId}`, { as: 'manager' });
    // The answer that repeated Rosalina's details is gone: the same request now runs as a new one.
    const after = await t.call('POST', '/api/orders', { payload: order, headers });
    expect(after.statusCode).toBe(201);
    expect(after.headers['idempotent-replayed']).toBeUndefined();
    expect((after.json() as OrderDto).id).not.toBe(first.id);
  });
});
