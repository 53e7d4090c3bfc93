// Every route called through the typed client, as the UI calls it: each success's body is what its message
// declares with `.returns(schema)`, the schema OpenAPI documents. A handler answering a field the schema lacks,
// or missing one it promises, fails here rather than in a client generated from the document.
import type { AnyRoute } from '@myelin/http/client';
import { type Client, createClient } from '@myelin/http/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../testing/testPizzeria.ts';
import { api } from './routes.ts';

let t: TestServer;
beforeAll(async () => {
  t = await testServer();
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

/** `fetch` over Fastify's inject: the client's real requests, with no socket. */
const injected: typeof fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const response = await t.server.inject({
    method: (init?.method ?? 'GET') as 'GET',
    url: url.pathname + url.search,
    headers: Object.fromEntries(new Headers(init?.headers).entries()),
    ...(typeof init?.body === 'string' ? { payload: init.body } : {}),
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : String(value));
  }
  const empty = response.statusCode === 204 || response.statusCode === 304;
  return new Response(empty ? null : response.body, { status: response.statusCode, headers });
};

async function as(user?: string): Promise<Client<typeof api>> {
  const token = user === undefined ? undefined : await t.token(user);
  return createClient(api, { baseUrl: 'http://pizzeria.test', fetch: injected, token });
}

const covered = new Set<string>();

/** Asserts a call succeeded and that its body passes the result schema its route's message declares. */
async function conforms<TResult extends { readonly ok: boolean }>(
  name: keyof typeof api,
  call: Promise<TResult>,
): Promise<Extract<TResult, { ok: true }>> {
  const result = await call;
  expect(result.ok, `${name}: ${JSON.stringify(result)}`).toBe(true);
  const { data } = result as unknown as { data: unknown };
  const schema = (api[name] as AnyRoute).message.resultSchema;
  if (schema === undefined) {
    expect(data, `${name} declares no result, and answers none`).toBeUndefined();
  } else {
    const checked = await schema['~standard'].validate(data);
    expect(checked.issues, `${name}: ${JSON.stringify(checked.issues)}`).toBeUndefined();
    // The schema drops fields it does not declare: equal means the body has none (nothing leaks undocumented).
    expect((checked as { value: unknown }).value, name).toEqual(data);
  }
  covered.add(name);
  return result as Extract<TResult, { ok: true }>;
}

describe('every response', () => {
  it('is what its message declares, on every route', async () => {
    const [anyone, customer, chef, driver, manager] = await Promise.all(
      [undefined, 'customer', 'chef', 'driver', 'manager'].map(as),
    );
    if (!anyone || !customer || !chef || !driver || !manager) throw new Error('no client');
    const order = {
      customerName: 'Daisy',
      customerPhone: '555 0199',
      customerAddress: '3 Sarasaland Way',
      pizzas: [{ name: 'margherita', size: 'large' as const, toppings: ['basil' as const] }],
      notes: 'Leave at the door',
    };
    const anonymous = await conforms('placeOrder', anyone.placeOrder(order));
    expect(anonymous.data.accessKey).toEqual(expect.any(String)); // the optional field, present here
    const placed = await conforms('placeOrder', customer.placeOrder(order));
    const id = placed.data.id;
    await conforms('getOrder', customer.getOrder({ id }));
    await conforms('getOrder', anyone.getOrder({ id: anonymous.data.id, key: anonymous.data.accessKey }));
    await conforms('listOrders', manager.listOrders({}));
    await conforms('kitchenQueue', chef.kitchenQueue({}, { minPosition: placed.position }));
    await conforms('startCooking', chef.startCooking({ id }));
    const ready = await conforms('markReady', chef.markReady({ id }));
    await conforms('deliveryBoard', driver.deliveryBoard({}, { minPosition: ready.position }));
    await conforms('assignDriver', manager.assignDriver({ id, driverId: 'driver' }));
    await conforms('startDelivery', driver.startDelivery({ id }));
    const delivered = await conforms('markDelivered', driver.markDelivered({ id }));
    expect(delivered.data).toMatchObject({ status: 'delivered', chef: 'chef', driverId: 'driver' });
    await conforms('cancelOrder', manager.cancelOrder({ id: anonymous.data.id }));
    await conforms('getMenu', anyone.getMenu({}));
    const added = await conforms('addPizza', manager.addPizza({ name: 'Quattro Stagioni', basePrice: 15.5 }));
    await conforms('changePizza', manager.changePizza({ id: added.data.id, description: 'Hot' }));
    await conforms('retirePizza', manager.retirePizza({ id: added.data.id }));
    const stats = await conforms('statistics', manager.statistics({}, { minPosition: delivered.position }));
    await conforms('alerts', manager.alerts({}));
    expect(stats.data.ordersByStatus.delivered).toBe(1);
    await conforms('eraseCustomer', manager.eraseCustomer({ customerId: placed.data.customerId }));
    expect([...covered].sort()).toEqual(Object.keys(api).sort());
  });
});
