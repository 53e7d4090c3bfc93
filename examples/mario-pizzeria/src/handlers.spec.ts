// The seed's handler tests (Neuroglia's Mario's Pizzeria, part 3), rewritten for this application: the same
// commands and queries through the mediator, in memory: the read models are projected there as on PostgreSQL,
// so no database is needed (the API tests run the same handlers on PGlite).
import { Logger } from '@myelin/core';
import { expectFailure, expectSuccess } from '@myelin/core/testing';
import { describe, expect, it } from 'vitest';
import { api } from './api/routes.ts';
import { MarkReady, StartCooking } from './kitchen/contract.ts';
import { SeedMenu } from './menu/contract.ts';
import { CancelOrder, GetOrder, PlaceOrder } from './orders/contract.ts';
import { buildPizzeria } from './pizzeria.ts';
import { GetStatistics } from './stats/contract.ts';
import { memoryStorage } from './storage.ts';
import { memoryPizzeria as testPizzeria } from './testing/memoryPizzeria.ts';

const fixedClock = () => new Date('2026-05-01T18:30:00.000Z');

describe("the seed's Mario's Pizzeria handlers", () => {
  it('PlaceOrder with a pizza answers 201 with the confirmed order, its Location, and commits its events', async () => {
    await using t = await testPizzeria({ clock: fixedClock });
    const result = await t.app.mediator.execute(
      new PlaceOrder({
        customerName: 'John Doe',
        customerPhone: '555-1234',
        pizzas: [{ name: 'margherita', size: 'large', toppings: [] }],
      }),
    );
    const order = expectSuccess(result, 201);
    expect(order).toMatchObject({
      status: 'confirmed',
      customerName: 'John Doe',
      customerPhone: '555-1234',
      items: [{ name: 'Margherita', size: 'large', toppings: [], price: 20.78 }],
      total: 20.78,
      placedAt: '2026-05-01T18:30:00.000Z',
      version: 1,
    });
    expect(order.id).toMatch(/^[0-9a-f-]{36}$/);
    // Placed without signing in: the key that reads it back is in the Location, and in the answer this once.
    const { accessKey, ...placed } = order;
    expect(result.ok && result.location).toBe(`/api/orders/${order.id}?key=${accessKey}`);
    expect(result.ok && result.position).toMatch(/^\d+\.\d+$/);

    const stream = await t.events.readStream(`Order-${order.id}`);
    expect(stream.map((e) => e.metadata.type)).toEqual(['order.placed.v1']);
    expect(JSON.stringify(stream)).not.toContain(accessKey); // only its hash is kept
    // Readable at once: the order summaries are an inline projection, written in the command's transaction.
    const read = await t.app.mediator.execute(new GetOrder({ id: order.id, key: accessKey }));
    expect(expectSuccess(read, 200)).toEqual(placed);
    expectFailure(await t.app.mediator.execute(new GetOrder({ id: order.id })), 404);
  });

  it('PlaceOrder with no pizzas answers 400 "Order must contain at least one pizza" and stores nothing', async () => {
    await using t = await testPizzeria();
    const problem = expectFailure(
      await t.app.mediator.execute(
        new PlaceOrder({ customerName: 'John Doe', customerPhone: '555-1234', pizzas: [] }),
      ),
      400,
    );
    expect(problem.detail).toBe('Order must contain at least one pizza');
    expect(t.database.log.map((e) => e.metadata.type)).not.toContain('order.placed.v1');
    expect(t.database.log.map((e) => e.metadata.type)).not.toContain('customer.registered.v1');
  });

  it('PlaceOrder keeps a signed-in customer’s details on their profile; an anonymous order touches none', async () => {
    await using t = await testPizzeria();
    const line = [{ name: 'supreme', size: 'small' as const, toppings: [] }];
    const luigi = { principal: { subject: 'luigi', roles: ['customer'] } };
    const first = new PlaceOrder({
      customerName: 'John',
      customerPhone: '555-0001',
      customerAddress: '1 Mushroom Way',
      pizzas: line,
    });
    const placed = expectSuccess(await t.app.mediator.execute(first, luigi), 201);
    expect(placed).not.toHaveProperty('accessKey'); // their own orders open with their token
    expectSuccess(await t.app.mediator.execute(new GetOrder({ id: placed.id }), luigi), 200);
    const again = expectSuccess(
      await t.app.mediator.execute(
        new PlaceOrder({ customerName: 'John Doe', customerPhone: '(555) 0001', pizzas: line }),
        luigi,
      ),
      201,
    );
    // The order carries what was given with it; the profile keeps the address they gave before.
    expect(again).toMatchObject({ customerName: 'John Doe' });
    expect(again).not.toHaveProperty('customerAddress');
    // Anyone may type the same phone: it reads nothing of theirs and changes nothing.
    const stranger = expectSuccess(
      await t.app.mediator.execute(
        new PlaceOrder({ customerName: 'Wario', customerPhone: '555-0001', pizzas: line }),
      ),
      201,
    );
    expect(stranger).not.toHaveProperty('customerAddress');
    const customers = t.database.log
      .filter((e) => e.streamId.startsWith('Customer-'))
      .map((e) => ({ type: e.metadata.type, streamId: e.streamId }));
    expect(customers).toEqual([
      { type: 'customer.registered.v1', streamId: 'Customer-customer-luigi' },
      { type: 'customer.details.changed.v1', streamId: 'Customer-customer-luigi' },
    ]);
  });

  it('PlaceOrder for a pizza not on the menu answers 400 naming it and its field', async () => {
    await using t = await testPizzeria();
    const problem = expectFailure(
      await t.app.mediator.execute(
        new PlaceOrder({
          customerName: 'John',
          customerPhone: '555-0002',
          pizzas: [
            { name: 'margherita', size: 'small', toppings: [] },
            { name: 'hawaiian', size: 'small', toppings: [] },
          ],
        }),
      ),
      400,
    );
    expect(problem.detail).toContain('hawaiian');
    expect(problem.errors).toEqual([
      { field: 'pizzas[1].name', pointer: '#/pizzas/1/name', detail: "'hawaiian' is not on the menu" },
    ]);
  });

  it('GetOrder for an unknown id answers 404 naming the entity and the id', async () => {
    await using t = await testPizzeria();
    const problem = expectFailure(await t.app.mediator.execute(new GetOrder({ id: 'nonexistent' })), 404);
    expect(problem.detail).toBe(
      "Failed to find an entity of type 'Order' with the specified id 'nonexistent'",
    );
  });

  it('takes who acts on an order from the principal, whatever the message says: any transport is as safe as HTTP', async () => {
    await using t = await testPizzeria({ clock: fixedClock });
    const placed = expectSuccess(
      await t.app.mediator.execute(
        new PlaceOrder({
          customerName: 'Peach',
          customerPhone: '555 0101',
          pizzas: [{ name: 'margherita', size: 'small', toppings: [] }],
        }),
      ),
      201,
    );
    const luigi = { subject: 'luigi', roles: ['chef'] };
    // A field claiming to be someone else is not part of the message: it is dropped, never believed.
    const forged = { id: placed.id, chef: 'mallory' } as unknown as { id: string };
    const cooking = expectSuccess(
      await t.app.mediator.execute(new StartCooking(forged), { principal: luigi }),
    );
    expect(cooking).toMatchObject({ status: 'cooking', chef: 'luigi' });
    // Without a principal, the policy refuses before the handler runs.
    expectFailure(await t.app.mediator.execute(new MarkReady({ id: placed.id })), 401);
  });

  it("GetStatistics counts orders by status, and a cancelled order's revenue and pizzas are taken back", async () => {
    let now = new Date('2026-05-01T18:00:00.000Z');
    await using t = await testPizzeria({ clock: () => now });
    const chef = { principal: { subject: 'luigi', roles: ['chef'] } };
    const manager = { principal: { subject: 'mario', roles: ['manager'] } };
    const place = async (name: string) =>
      expectSuccess(
        await t.app.mediator.execute(
          new PlaceOrder({
            customerName: 'Toad',
            customerPhone: '555 0102',
            pizzas: [{ name, size: 'small', toppings: [] }],
          }),
        ),
        201,
      );
    const first = await place('margherita');
    const second = await place('pepperoni');
    const third = await place('margherita');
    expectSuccess(await t.app.mediator.execute(new StartCooking({ id: first.id }), chef));
    now = new Date('2026-05-01T18:12:00.000Z');
    expectSuccess(await t.app.mediator.execute(new MarkReady({ id: first.id }), chef));
    const cancelled = await t.app.mediator.execute(new CancelOrder({ id: second.id }), manager);
    expectSuccess(cancelled);
    const read = await t.app.mediator.execute(new GetStatistics({}), {
      ...manager,
      minPosition: cancelled.ok ? cancelled.position : undefined,
    });
    expect(expectSuccess(read)).toEqual({
      ordersByStatus: { confirmed: 1, cooking: 0, ready: 1, delivering: 0, delivered: 0, cancelled: 1 },
      revenue: first.total + third.total,
      topPizzas: [{ name: 'Margherita', count: 2 }],
      averageMinutesToReady: 12,
      revenueByDay: [{ day: '2026-05-01', revenue: first.total + third.total }],
    });
  });

  it('has a policy for every message it handles: a use case that forgot its own would be open to anyone', async () => {
    await using t = await testPizzeria();
    const messages = [...Object.values(api).map((route) => route.message), SeedMenu];
    const unguarded = messages.filter((message) => t.app.policyOf(message) === undefined).map((m) => m.type);
    expect(unguarded).toEqual([]);
  });

  it('gives background workers the process’s logger, when it has one', async () => {
    const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    await using app = await buildPizzeria(memoryStorage(), { logger });
    expect(app.container.root.resolve(Logger)).toBe(logger);
  });
});
