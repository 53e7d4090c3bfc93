// The whole API through Fastify's inject, on an in-memory PGlite with the projection daemon running: ordering,
// the life of an order and every transition the state machine forbids, the auth matrix, the menu and OpenAPI.
import { EventStore } from '@myelin/core';
import type { LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderDto } from '../shared/dtos.ts';
import { type CallOptions, type Method, type TestServer, testServer } from '../testing/testPizzeria.ts';
import { developmentIssuer } from './auth.ts';
import { defaultOrderRateLimit } from './server.ts';

let t: TestServer;
beforeAll(async () => {
  t = await testServer();
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

const call = (method: Method, url: string, options: CallOptions = {}): Promise<LightMyRequestResponse> =>
  t.call(method, url, options);

const anOrder = {
  customerName: 'Peach',
  customerPhone: '+1 555 0100',
  customerAddress: '1 Castle Road',
  customerEmail: 'peach@castle.example',
  pizzas: [
    { name: 'margherita', size: 'large', toppings: ['basil'] },
    { name: 'Pepperoni', size: 'small' },
  ],
  notes: 'Ring twice',
};

/** Places an order without signing in; answers it as staff read it (without the key its 201 carries). */
async function place(order: object = anOrder): Promise<OrderDto> {
  const response = await call('POST', '/api/orders', { payload: order });
  expect(response.statusCode, response.body).toBe(201);
  const { accessKey: _key, ...placed } = response.json() as OrderDto;
  return placed;
}

/** The steps of an order: path suffix, the role that may take it, and its body. */
const steps = {
  cooking: { role: 'chef', payload: {} },
  ready: { role: 'chef', payload: {} },
  assignment: { role: 'manager', payload: { driverId: 'driver' } },
  delivery: { role: 'driver', payload: {} },
  delivered: { role: 'driver', payload: {} },
  cancellation: { role: 'manager', payload: {} },
} as const;
type Step = keyof typeof steps;

async function take(id: string, step: Step): Promise<LightMyRequestResponse> {
  const { role, payload } = steps[step];
  return call('POST', `/api/orders/${id}/${step}`, { as: role, payload });
}

/** A new order walked to a status through the allowed steps. */
async function orderIn(status: OrderDto['status']): Promise<OrderDto> {
  const path: Record<OrderDto['status'], readonly Step[]> = {
    confirmed: [],
    cooking: ['cooking'],
    ready: ['cooking', 'ready'],
    delivering: ['cooking', 'ready', 'delivery'],
    delivered: ['cooking', 'ready', 'delivery', 'delivered'],
    cancelled: ['cancellation'],
  };
  let order = await place();
  for (const step of path[status]) {
    const response = await take(order.id, step);
    expect(response.statusCode, response.body).toBe(200);
    order = response.json() as OrderDto;
  }
  expect(order.status).toBe(status);
  return order;
}

describe('ordering, as anyone', () => {
  it('places an order without a token: 201, Location, the confirmed order with prices in dollars', async () => {
    const response = await call('POST', '/api/orders', { payload: anOrder });
    expect(response.statusCode).toBe(201);
    const order = response.json() as OrderDto;
    expect(response.headers.location).toBe(`/api/orders/${order.id}?key=${order.accessKey}`);
    expect(response.headers['myelin-position']).toMatch(/^\d+\.\d+$/);
    expect(order).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      status: 'confirmed',
      customerId: `guest-${order.id}`, // placed without signing in: a subject of its own
      customerName: 'Peach',
      customerPhone: '+1 555 0100',
      customerAddress: '1 Castle Road',
      customerEmail: 'peach@castle.example',
      items: [
        { name: 'Margherita', size: 'large', toppings: ['basil'], price: 23.38 }, // 12.99 × (1.6 + 0.2)
        { name: 'Pepperoni', size: 'small', toppings: [], price: 11.99 }, // 14.99 × 0.8 = 11.992
      ],
      total: 35.37,
      notes: 'Ring twice',
      placedAt: expect.any(String),
      version: 1,
      accessKey: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    });
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('reads the order right after its 201, with an ETag that answers If-None-Match with 304', async () => {
    const placing = await call('POST', '/api/orders', { payload: anOrder });
    const { accessKey: _key, ...placed } = placing.json() as OrderDto;
    const location = placing.headers.location as string;
    const read = await call('GET', location);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(placed);
    expect(read.headers.etag).toBe('"1"');
    const again = await call('GET', location, { headers: { 'if-none-match': '"1"' } });
    expect(again.statusCode).toBe(304);
  });

  it('answers a read-your-writes position no store could hold with a 400 naming the header, before signing in', async () => {
    for (const position of ['18446744073709551616.0', '1.9223372036854775808']) {
      const response = await call('GET', '/api/menu', { headers: { 'myelin-position': position } });
      expect(response.statusCode, position).toBe(400);
      expect(response.json()).toMatchObject({
        detail: expect.stringContaining('myelin-position must be a log position'),
      });
    }
  });

  it('answers 404 problem+json for an unknown order', async () => {
    const response = await call('GET', '/api/orders/4a0a0a0a-0000-4000-8000-000000000000');
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ status: 404, title: 'Not Found' });
  });

  it('refuses an order without pizzas: 400 "Order must contain at least one pizza"', async () => {
    const response = await call('POST', '/api/orders', { payload: { ...anOrder, pizzas: [] } });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().detail).toBe('Order must contain at least one pizza');
  });

  it('refuses a pizza not on the menu with a 400 naming it and its field', async () => {
    const pizzas = [...anOrder.pizzas, { name: 'Hawaiian', size: 'medium' }];
    const response = await call('POST', '/api/orders', { payload: { ...anOrder, pizzas } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      detail: 'Not on the menu: Hawaiian',
      errors: [
        { field: 'pizzas[2].name', pointer: '#/pizzas/2/name', detail: "'Hawaiian' is not on the menu" },
      ],
    });
  });

  it('refuses a bad size, an unknown topping, a missing name: 400 naming each field', async () => {
    const response = await call('POST', '/api/orders', {
      payload: {
        customerPhone: '555',
        pizzas: [
          { name: 'margherita', size: 'huge' },
          { name: 'margherita', size: 'small', toppings: ['anchovies'] },
        ],
      },
    });
    expect(response.statusCode).toBe(400);
    const fields = (response.json().errors as { field: string }[]).map((e) => e.field).sort();
    expect(fields).toEqual(['customerName', 'pizzas[0].size', 'pizzas[1].toppings[0]']);
  });
});

describe("a customer's personal data", () => {
  const victim = {
    customerName: 'Daisy',
    customerPhone: '+1 555 0199',
    customerAddress: '3 Sarasaland Way',
    customerEmail: 'daisy@sarasaland.example',
    pizzas: [{ name: 'margherita', size: 'small' }],
  };

  it('is neither shown nor changed by an anonymous order with the same phone, however it is written', async () => {
    const theirs = await call('POST', '/api/orders', { as: 'customer', payload: victim });
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers.location).toBe(`/api/orders/${theirs.json().id}`); // signed in: no key needed
    for (const phone of ['+1 555 0199', '+15550199', '+1 (555) 01-99']) {
      const attempt = await call('POST', '/api/orders', {
        payload: {
          customerName: 'Bowser',
          customerPhone: phone,
          pizzas: [{ name: 'margherita', size: 'small' }],
        },
      });
      expect(attempt.statusCode).toBe(201);
      const body = attempt.json() as OrderDto;
      // Only what this caller sent comes back.
      expect(body).toMatchObject({ customerName: 'Bowser', customerPhone: phone });
      expect(body).not.toHaveProperty('customerAddress');
      expect(body).not.toHaveProperty('customerEmail');
      expect(attempt.body).not.toContain('Sarasaland');
    }
    // The customer's next order still carries their own details, and their stored name was not overwritten.
    const next = await call('POST', '/api/orders', { as: 'customer', payload: victim });
    expect(next.json()).toMatchObject({ customerName: 'Daisy', customerAddress: '3 Sarasaland Way' });
    const { rows } = await t.pizzeria.database.query<{ type: string; stream: string }>(
      `SELECT type, stream_id AS stream FROM ${t.pizzeria.database.schema}.events
        WHERE type LIKE 'customer.%' ORDER BY transaction_id, sequence`,
    );
    expect(rows.map((row) => row.type)).toEqual(['customer.registered.v1']); // registered once, never changed
    // Sealed in the log, opened on read.
    const events = await t.pizzeria.app.container.root.resolve(EventStore).readStream(rows[0]?.stream ?? '');
    expect(events.map((event) => (event.data as { name: string }).name)).toEqual(['Daisy']);
  });

  it('of an order is read by staff and by its own customer; anyone else is told it does not exist', async () => {
    const anonymous = await call('POST', '/api/orders', { payload: victim });
    const { id, accessKey } = anonymous.json() as OrderDto;
    const signedIn = (
      await call('POST', '/api/orders', { as: 'customer', payload: victim })
    ).json() as OrderDto;

    const status = async (url: string, as?: string) =>
      (await call('GET', url, as === undefined ? {} : { as })).statusCode;
    // Whoever placed it anonymously: with the key the 201 gave.
    expect(await status(`/api/orders/${id}?key=${accessKey}`)).toBe(200);
    expect(await status(`/api/orders/${id}`)).toBe(404);
    expect(await status(`/api/orders/${id}?key=${'A'.repeat(22)}`)).toBe(404);
    expect(await status(`/api/orders/${signedIn.id}?key=${accessKey}`)).toBe(404); // a key opens its own order only
    // A signed-in customer: their own orders, not another's.
    expect(await status(`/api/orders/${signedIn.id}`, 'customer')).toBe(200);
    expect(await status(`/api/orders/${id}`, 'customer')).toBe(404);
    expect(await status(`/api/orders/${signedIn.id}`)).toBe(404);
    // Staff.
    for (const role of ['chef', 'driver', 'manager']) {
      expect(await status(`/api/orders/${id}`, role)).toBe(200);
      expect(await status(`/api/orders/${signedIn.id}`, role)).toBe(200);
    }
    // What is refused looks exactly like an order that does not exist.
    const refused = await call('GET', `/api/orders/${id}`);
    const missing = await call('GET', '/api/orders/4a0a0a0a-0000-4000-8000-000000000000');
    expect(refused.json().detail).toBe(
      missing.json().detail.replace('4a0a0a0a-0000-4000-8000-000000000000', id),
    );
  });

  it('refuses names that hide characters staff cannot see: bidi overrides and zero-width characters', async () => {
    for (const name of ['Pe\u202Ehcae', 'Pea\u200Bch', '\u2066Peach\u2069', 'Pe\uFEFFach']) {
      const response = await call('POST', '/api/orders', { payload: { ...anOrder, customerName: name } });
      expect(response.statusCode, name).toBe(400);
      expect(response.json().errors[0]).toMatchObject({ field: 'customerName' });
    }
    const notes = await call('POST', '/api/orders', { payload: { ...anOrder, notes: 'ring \u202Etwice' } });
    expect(notes.json().errors[0]).toMatchObject({ field: 'notes' });
  });
});

describe('the staff boards', () => {
  it('show every open order, a page at a time, oldest first, with how many there are', async () => {
    // Whatever other tests left open is on the board too: these five are the newest, so on its last pages.
    let position = '';
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await call('POST', '/api/orders', { payload: anOrder });
      position = response.headers['myelin-position'] as string;
      mine.push((response.json() as OrderDto).id);
    }
    const pageOf = async (page: number) => {
      const response = await call('GET', `/api/kitchen/queue?page=${page}&pageSize=2`, {
        as: 'chef',
        headers: { 'myelin-position': position },
      });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as { items: OrderDto[]; total: number; page: number; pageSize: number };
    };
    const first = await pageOf(1);
    expect(first.items).toHaveLength(2);
    expect(first.total).toBeGreaterThanOrEqual(5);
    const seen: OrderDto[] = [];
    for (let page = 1; page <= Math.ceil(first.total / 2); page++) seen.push(...(await pageOf(page)).items);
    expect(seen).toHaveLength(first.total);
    expect(new Set(seen.map((order) => order.id)).size).toBe(first.total);
    expect(new Set(seen.map((order) => order.id).slice(-5))).toEqual(new Set(mine));
    const placed = seen.map((order) => order.placedAt);
    expect(placed).toEqual([...placed].sort());
    const tooLarge = await call('GET', '/api/kitchen/queue?pageSize=201', { as: 'chef' });
    expect(tooLarge.statusCode).toBe(400);
    expect(tooLarge.json().errors[0].field).toBe('pageSize');
  });
});

describe('a flood of orders', () => {
  it('is cut at the limit with a 429 problem and Retry-After, for a guest by address and a customer by account; staff go on', async () => {
    await using limited = await testServer({}, { orderRateLimit: { ...defaultOrderRateLimit, max: 2 } });
    const place = (headers: Record<string, string> = {}) =>
      limited.server.inject({ method: 'POST', url: '/api/orders', payload: anOrder, headers });
    expect((await place()).statusCode).toBe(201);
    expect((await place()).statusCode).toBe(201);
    const refused = await place();
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // A customer has a budget of their own, wherever they order from: a token does not exempt them.
    const customer = { authorization: `Bearer ${await limited.token('customer')}` };
    expect((await place(customer)).statusCode).toBe(201);
    expect((await place(customer)).statusCode).toBe(201);
    const mine = await limited.server.inject({
      method: 'POST',
      url: '/api/orders',
      payload: anOrder,
      headers: customer,
      remoteAddress: '10.9.9.9',
    });
    expect(mine.statusCode).toBe(429);
    const manager = { authorization: `Bearer ${await limited.token('manager')}` };
    for (let i = 0; i < 3; i++) expect((await place(manager)).statusCode).toBe(201);
  });
});

describe('the life of an order', () => {
  it('goes confirmed → cooking → ready → assigned → delivering → delivered, recording who and when', async () => {
    const order = await place();
    const cooking = (await take(order.id, 'cooking')).json() as OrderDto;
    expect(cooking).toMatchObject({ status: 'cooking', chef: 'chef', version: 2 });
    expect(Date.parse(cooking.cookingStartedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(order.placedAt));
    const ready = (await take(order.id, 'ready')).json() as OrderDto;
    expect(ready).toMatchObject({ status: 'ready', readyAt: expect.any(String), version: 3 });
    const assigned = (await take(order.id, 'assignment')).json() as OrderDto;
    expect(assigned).toMatchObject({ status: 'ready', driverId: 'driver', version: 4 });
    const delivering = (await take(order.id, 'delivery')).json() as OrderDto;
    expect(delivering).toMatchObject({ status: 'delivering', deliveryStartedAt: expect.any(String) });
    const delivered = (await take(order.id, 'delivered')).json() as OrderDto;
    expect(delivered).toMatchObject({ status: 'delivered', driverId: 'driver', version: 6 });
    expect((await call('GET', `/api/orders/${order.id}`, { as: 'manager' })).json()).toEqual(delivered);
  });

  it('lets a driver take out an order nobody was assigned to, and records them', async () => {
    const ready = await orderIn('ready');
    const response = await take(ready.id, 'delivery');
    expect(response.json()).toMatchObject({ status: 'delivering', driverId: 'driver' });
  });

  it("refuses a driver another driver's order: 403", async () => {
    const ready = await orderIn('ready');
    const assigned = await call('POST', `/api/orders/${ready.id}/assignment`, {
      as: 'manager',
      payload: { driverId: 'toad' },
    });
    expect(assigned.json()).toMatchObject({ driverId: 'toad' });
    const response = await take(ready.id, 'delivery');
    expect(response.statusCode).toBe(403);
    expect(response.json().detail).toContain('toad');
  });

  it('cancels from any state but delivered and cancelled', async () => {
    for (const status of ['confirmed', 'cooking', 'ready', 'delivering'] as const) {
      const order = await orderIn(status);
      const response = await take(order.id, 'cancellation');
      expect(response.statusCode, status).toBe(200);
      expect(response.json()).toMatchObject({ status: 'cancelled', cancelledAt: expect.any(String) });
    }
  });

  const allowed: Record<OrderDto['status'], readonly Step[]> = {
    confirmed: ['cooking', 'cancellation'],
    cooking: ['ready', 'cancellation'],
    ready: ['assignment', 'delivery', 'cancellation'],
    delivering: ['delivered', 'cancellation'],
    delivered: [],
    cancelled: [],
  };
  const forbidden = (Object.keys(allowed) as OrderDto['status'][]).flatMap((status) =>
    (Object.keys(steps) as Step[])
      .filter((step) => !allowed[status].includes(step))
      .map((step) => ({ status, step })),
  );

  it('answers every transition the state machine forbids with a 409 naming the current status', async () => {
    expect(forbidden).toHaveLength(27);
    const orders = new Map<string, OrderDto>();
    for (const status of Object.keys(allowed) as OrderDto['status'][])
      orders.set(status, await orderIn(status));
    for (const { status, step } of forbidden) {
      const order = orders.get(status) as OrderDto;
      const response = await take(order.id, step);
      expect(response.statusCode, `${step} on a ${status} order: ${response.body}`).toBe(409);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json()).toMatchObject({
        status: 409,
        title: 'Conflict',
        detail: expect.stringContaining(`is ${status}`),
        currentStatus: status,
        instance: `/api/orders/${order.id}/${step}`,
      });
      // Refused means unchanged.
      expect((await call('GET', `/api/orders/${order.id}`, { as: 'manager' })).json()).toEqual(order);
    }
  });

  it('answers every transition of an unknown order with 404', async () => {
    for (const step of Object.keys(steps) as Step[]) {
      const response = await take('4a0a0a0a-0000-4000-8000-000000000000', step);
      expect(response.statusCode, step).toBe(404);
    }
  });
});

describe('the auth matrix', () => {
  /** A token the API must not accept: signed with another secret. */
  const forged = () =>
    new SignJWT({ roles: ['manager'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('manager')
      .setIssuer(developmentIssuer.issuer)
      .setAudience(developmentIssuer.audience)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-of-at-least-32-characters!!'));

  interface Case {
    readonly name: string;
    readonly method: Method;
    /** Makes what the call needs (an order in the right state) and answers its path. */
    readonly path: () => Promise<string>;
    readonly payload?: object;
    readonly allowed: string;
    readonly denied: string;
    readonly success: number;
  }
  const inState = (status: OrderDto['status'], step: string) => async () =>
    `/api/orders/${(await orderIn(status)).id}/${step}`;
  const cases: Case[] = [
    {
      name: 'list orders',
      method: 'GET',
      path: async () => '/api/orders',
      allowed: 'driver',
      denied: 'customer',
      success: 200,
    },
    {
      name: 'start cooking',
      method: 'POST',
      path: inState('confirmed', 'cooking'),
      allowed: 'chef',
      denied: 'driver',
      success: 200,
    },
    {
      name: 'mark ready',
      method: 'POST',
      path: inState('cooking', 'ready'),
      allowed: 'chef',
      denied: 'manager',
      success: 200,
    },
    {
      name: 'assign a driver',
      method: 'POST',
      path: inState('ready', 'assignment'),
      payload: { driverId: 'driver' },
      allowed: 'manager',
      denied: 'chef',
      success: 200,
    },
    {
      name: 'start delivery',
      method: 'POST',
      path: inState('ready', 'delivery'),
      allowed: 'driver',
      denied: 'customer',
      success: 200,
    },
    {
      name: 'mark delivered',
      method: 'POST',
      path: inState('delivering', 'delivered'),
      allowed: 'driver',
      denied: 'chef',
      success: 200,
    },
    {
      name: 'cancel',
      method: 'POST',
      path: inState('confirmed', 'cancellation'),
      allowed: 'manager',
      denied: 'driver',
      success: 200,
    },
    {
      name: 'kitchen queue',
      method: 'GET',
      path: async () => '/api/kitchen/queue',
      allowed: 'chef',
      denied: 'driver',
      success: 200,
    },
    {
      name: 'delivery board',
      method: 'GET',
      path: async () => '/api/delivery/ready',
      allowed: 'driver',
      denied: 'chef',
      success: 200,
    },
    {
      name: 'statistics',
      method: 'GET',
      path: async () => '/api/stats',
      allowed: 'manager',
      denied: 'chef',
      success: 200,
    },
    {
      name: 'retired pizzas',
      method: 'GET',
      path: async () => '/api/menu?all=true',
      allowed: 'manager',
      denied: 'customer',
      success: 200,
    },
    {
      name: 'add a pizza',
      method: 'POST',
      path: async () => '/api/menu',
      payload: { name: `Matrix ${Math.random()}`, basePrice: 9 },
      allowed: 'manager',
      denied: 'chef',
      success: 201,
    },
    {
      name: 'change a pizza',
      method: 'PUT',
      path: async () => '/api/menu/veggie',
      payload: { description: 'Garden fresh' },
      allowed: 'manager',
      denied: 'customer',
      success: 200,
    },
    {
      name: 'retire a pizza',
      method: 'DELETE',
      path: async () => '/api/menu/diavola',
      allowed: 'manager',
      denied: 'driver',
      success: 204,
    },
    {
      name: 'erase a customer',
      method: 'DELETE',
      path: async () => `/api/customers/${(await place()).customerId}`,
      allowed: 'manager',
      denied: 'chef',
      success: 204,
    },
  ];

  it.each(cases)('$name: no token 401, bad token 401, $denied 403, $allowed $success', async (c) => {
    const path = await c.path();
    const payload = c.payload === undefined ? {} : { payload: c.payload };
    const anonymous = await call(c.method, path, payload);
    expect(anonymous.statusCode, anonymous.body).toBe(401);
    expect(anonymous.headers['content-type']).toContain('application/problem+json');
    for (const token of ['not-a-jwt', await forged()]) {
      const bad = await call(c.method, path, { ...payload, token });
      expect(bad.statusCode, bad.body).toBe(401);
      expect(bad.headers['www-authenticate']).toContain('invalid_token');
    }
    const wrong = await call(c.method, path, { ...payload, as: c.denied });
    expect(wrong.statusCode, wrong.body).toBe(403);
    const right = await call(c.method, path, { ...payload, as: c.allowed });
    expect(right.statusCode, right.body).toBe(c.success);
  });

  it('lets anyone order and read the menu, signed in or not', async () => {
    for (const as of [undefined, 'customer', 'chef']) {
      const options = as === undefined ? {} : { as };
      expect((await call('POST', '/api/orders', { ...options, payload: anOrder })).statusCode).toBe(201);
      expect((await call('GET', '/api/menu', options)).statusCode).toBe(200);
    }
  });

  it('issues development tokens for the four users, and refuses a wrong password', async () => {
    for (const username of ['customer', 'chef', 'driver', 'manager']) {
      const response = await call('POST', '/api/auth/token', { payload: { username, password: username } });
      expect(response.json()).toMatchObject({ tokenType: 'Bearer', roles: [username], expiresIn: 3600 });
    }
    const wrong = await call('POST', '/api/auth/token', { payload: { username: 'chef', password: 'x' } });
    expect(wrong.statusCode).toBe(401);
  });
});

describe('the order list', () => {
  it('pages the orders newest first, of one status when asked', async () => {
    const first = await place();
    await new Promise((resolve) => setTimeout(resolve, 5)); // placed in another millisecond, surely
    const second = await orderIn('cooking');
    const page = (await call('GET', '/api/orders?pageSize=2', { as: 'manager' })).json();
    expect(page).toMatchObject({ page: 1, pageSize: 2, total: expect.any(Number) });
    expect(page.items.map((o: OrderDto) => o.id)).toEqual([second.id, first.id]);
    const cooking = (await call('GET', '/api/orders?status=cooking&pageSize=100', { as: 'chef' })).json();
    expect(cooking.items.every((o: OrderDto) => o.status === 'cooking')).toBe(true);
    expect(cooking.items.map((o: OrderDto) => o.id)).toContain(second.id);
    const bad = await call('GET', '/api/orders?status=burnt', { as: 'chef' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('status');
  });
});

describe('the menu', () => {
  it('lists the available pizzas with their base prices, and the toppings', async () => {
    const menu = (await call('GET', '/api/menu')).json();
    expect(menu.items).toEqual(
      expect.arrayContaining([
        {
          id: 'margherita',
          name: 'Margherita',
          description: expect.any(String),
          basePrice: 12.99,
          available: true,
        },
        {
          id: 'pepperoni',
          name: 'Pepperoni',
          description: expect.any(String),
          basePrice: 14.99,
          available: true,
        },
        {
          id: 'supreme',
          name: 'Supreme',
          description: expect.any(String),
          basePrice: 17.99,
          available: true,
        },
      ]),
    );
    expect(menu.items.length).toBeGreaterThanOrEqual(6);
    expect(menu.toppings).toEqual(
      expect.arrayContaining(['extra cheese', 'mushrooms', 'olives', 'onions', 'peppers', 'basil', 'ham']),
    );
  });

  it('adds, changes and retires a pizza; orders follow the menu', async () => {
    const manager = { as: 'manager' };
    const added = await call('POST', '/api/menu', {
      ...manager,
      payload: { name: 'Funghi', description: 'Mushrooms', basePrice: 13.5 },
    });
    expect(added.statusCode).toBe(201);
    expect(added.headers.location).toBe('/api/menu/funghi');
    expect(added.json()).toEqual({
      id: 'funghi',
      name: 'Funghi',
      description: 'Mushrooms',
      basePrice: 13.5,
      available: true,
    });
    const twice = await call('POST', '/api/menu', {
      ...manager,
      payload: { name: ' funghi ', basePrice: 1 },
    });
    expect(twice.statusCode).toBe(409);
    expect((await call('GET', '/api/menu')).json().items).toContainEqual(added.json());

    const order = async () =>
      call('POST', '/api/orders', { payload: { ...anOrder, pizzas: [{ name: 'funghi', size: 'medium' }] } });
    expect((await order()).json().total).toBe(13.5);

    const changed = await call('PUT', '/api/menu/funghi', { ...manager, payload: { basePrice: 14.004 } });
    expect(changed.json()).toMatchObject({ basePrice: 14, description: 'Mushrooms' });
    expect((await order()).json().total).toBe(14);
    const taken = await call('PUT', '/api/menu/funghi', { ...manager, payload: { name: 'Margherita' } });
    expect(taken.statusCode).toBe(409);
    expect((await call('PUT', '/api/menu/nope', { ...manager, payload: { basePrice: 2 } })).statusCode).toBe(
      404,
    );
    const free = await call('PUT', '/api/menu/funghi', { ...manager, payload: { basePrice: 0 } });
    expect(free.statusCode).toBe(400);

    const retired = await call('DELETE', '/api/menu/funghi', manager);
    expect(retired.statusCode).toBe(204);
    expect((await call('GET', '/api/menu')).json().items.map((p: { id: string }) => p.id)).not.toContain(
      'funghi',
    );
    const all = (await call('GET', '/api/menu?all=true', manager)).json().items;
    expect(all).toContainEqual(expect.objectContaining({ id: 'funghi', available: false }));
    const refused = await order();
    expect(refused.statusCode).toBe(400);
    expect(refused.json().detail).toContain('funghi');
    expect((await call('DELETE', '/api/menu/nope', manager)).statusCode).toBe(404);

    const back = await call('POST', '/api/menu', { ...manager, payload: { name: 'Funghi', basePrice: 15 } });
    expect(back.statusCode).toBe(201);
    expect(back.json()).toMatchObject({ id: 'funghi', available: true, basePrice: 15 });
  });
});

describe('OpenAPI', () => {
  it("documents the API as Mario's Pizzeria, with every route and its roles", async () => {
    const response = await call('GET', '/openapi.json');
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.info.title).toBe("Mario's Pizzeria");
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/api/orders',
        '/api/orders/{id}',
        '/api/orders/{id}/cooking',
        '/api/kitchen/queue',
        '/api/delivery/ready',
        '/api/menu',
        '/api/menu/{id}',
        '/api/stats',
        '/api/customers/{customerId}',
      ]),
    );
    expect((await call('GET', '/docs')).statusCode).toBe(200);
    expect((await call('GET', '/health')).statusCode).toBe(200);
    expect((await call('GET', '/ready')).json()).toMatchObject({ status: 'ready' });
  });
});
