// Placing an order through the HTTP API: text staff will read is refused, naming the field, when it hides
// characters they cannot see, and names in any script are taken as typed.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, testServer } from '../testing/testPizzeria.ts';

let t: TestServer;
beforeAll(async () => {
  t = await testServer();
});
afterAll(async () => {
  await t[Symbol.asyncDispose]();
});

const anOrder = {
  customerName: 'Peach',
  customerPhone: '+1 555 0100',
  pizzas: [{ name: 'margherita', size: 'medium' }],
};

const place = (order: object): Promise<LightMyRequestResponse> =>
  t.call('POST', '/api/orders', { payload: { ...anOrder, ...order } });

describe("an order's customer name", () => {
  it('is refused, naming the field, when it hides direction marks, invisible operators or tags', async () => {
    const hiding = [
      '\u200Fevil', // right-to-left mark
      'Pe\u200Ech', // left-to-right mark
      'Pe\u061Cach', // Arabic letter mark
      'Pe\u2062ach', // invisible times
      'Peach\u{E0041}\u{E0042}', // tag characters, which can smuggle text past a reader
      'Pe\u00ADach', // soft hyphen
      'Pe\u{F8FF}ach', // private use
      'Pe\u2028ach', // line separator
      'Pe\nach', // a line break: a name is one line
      'Peach\u200D', // a zero-width joiner that joins no emoji
      '\uFEFFPeach', // a byte-order mark, which trimming would otherwise drop silently
      'Pe\uD800ach', // half of a character
    ];
    for (const customerName of hiding) {
      const response = await place({ customerName });
      expect(response.statusCode, JSON.stringify(customerName)).toBe(400);
      expect(response.json().errors, JSON.stringify(customerName)).toEqual([
        expect.objectContaining({ field: 'customerName', pointer: '#/customerName' }),
      ]);
    }
  });

  it('is taken as typed in any script, emoji and their joiners included', async () => {
    const names = [
      'Zoë Ångström',
      '山田 太郎',
      'فاطمة',
      'Chef 👩‍🍳',
      'The 👨‍👩‍👧‍👦',
      '🏳️‍🌈 Pride',
      'Ana 👩🏽‍🍳',
    ];
    for (const customerName of names) {
      const response = await place({ customerName });
      expect(response.statusCode, `${customerName}: ${response.body}`).toBe(201);
      expect(response.json().customerName).toBe(customerName);
    }
  });
});

describe("an order's address and notes", () => {
  it('may run over lines, but not hide characters', async () => {
    const placed = await place({
      customerAddress: '1 Castle Road\nMushroom Kingdom',
      notes: 'Ring twice.\r\nThanks!',
    });
    expect(placed.statusCode, placed.body).toBe(201);
    expect(placed.json()).toMatchObject({ customerAddress: '1 Castle Road\nMushroom Kingdom' });
    const hidden = await place({ notes: 'Ring \u200Ftwice' });
    expect(hidden.statusCode).toBe(400);
    expect(hidden.json().errors).toEqual([expect.objectContaining({ field: 'notes' })]);
  });
});
