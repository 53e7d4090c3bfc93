// The menu's commands through the HTTP API: what a manager may not put on it is refused with a 400 that names the
// field, as every other validation error does.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallOptions, type Method, type TestServer, testServer } from '../testing/testPizzeria.ts';

let t: TestServer;
beforeAll(async () => {
  t = await testServer();
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

const manager = { as: 'manager' };
const call = (method: Method, url: string, options: CallOptions = {}): Promise<LightMyRequestResponse> =>
  t.call(method, url, { ...manager, ...options });

/** The fields a 400 names. */
function fieldsOf(response: LightMyRequestResponse): string[] {
  expect(response.statusCode, response.body).toBe(400);
  expect(response.headers['content-type']).toContain('application/problem+json');
  return ((response.json().errors ?? []) as { field: string }[]).map((error) => error.field);
}

describe("a pizza's price", () => {
  it('is refused, naming basePrice, when it rounds to less than a cent', async () => {
    const tiny = await call('POST', '/api/menu', { payload: { name: 'Tiny', basePrice: 0.001 } });
    expect(fieldsOf(tiny)).toEqual(['basePrice']);
    expect(tiny.json().errors[0]).toMatchObject({ pointer: '#/basePrice' });
    expect(fieldsOf(await call('PUT', '/api/menu/margherita', { payload: { basePrice: 0.004 } }))).toEqual([
      'basePrice',
    ]);
    expect(fieldsOf(await call('PUT', '/api/menu/margherita', { payload: { basePrice: 0 } }))).toEqual([
      'basePrice',
    ]);
    expect((await call('GET', '/api/menu')).json().items).toContainEqual(
      expect.objectContaining({ id: 'margherita', basePrice: 12.99 }),
    );
  });

  it('of half a cent is a cent, rounded half-up', async () => {
    const cheap = await call('POST', '/api/menu', { payload: { name: 'Crumb', basePrice: 0.005 } });
    expect(cheap.statusCode, cheap.body).toBe(201);
    expect(cheap.json()).toMatchObject({ id: 'crumb', basePrice: 0.01 });
  });
});

describe("a pizza's name and description", () => {
  it('are refused, naming the field, when they hide characters customers cannot see', async () => {
    for (const name of ['A\u202EB', 'Fun\u200Bghi', '\u200FFunghi', 'Fun\u{E0041}ghi', 'Fun\u00ADghi']) {
      const added = await call('POST', '/api/menu', { payload: { name, basePrice: 10 } });
      expect(fieldsOf(added), JSON.stringify(name)).toEqual(['name']);
      const changed = await call('PUT', '/api/menu/margherita', { payload: { name } });
      expect(fieldsOf(changed), JSON.stringify(name)).toEqual(['name']);
    }
    const described = await call('POST', '/api/menu', {
      payload: { name: 'Funghi', description: 'Mush\u202Erooms', basePrice: 10 },
    });
    expect(fieldsOf(described)).toEqual(['description']);
  });

  it('may be written in any script, emoji included', async () => {
    const added = await call('POST', '/api/menu', {
      payload: { name: 'Pizza dello Chef 👩‍🍳', description: 'Crème fraîche, 蘑菇, فطر', basePrice: 16 },
    });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json()).toMatchObject({ name: 'Pizza dello Chef 👩‍🍳' });
  });
});
