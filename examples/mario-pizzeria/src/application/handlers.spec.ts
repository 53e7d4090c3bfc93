// The seed's handler tests (Neuroglia's Mario's Pizzeria, part 3), rewritten for this application: the same
// commands and queries through the mediator, on an embedded PostgreSQL (PGlite) rather than memory, because the
// queries read read models that only the projections write.
import { expectFailure, expectSuccess } from '@myelin/core/testing';
import { PostgresEventStore } from '@myelin/postgres';
import { describe, expect, it } from 'vitest';
import { testPizzeria } from '../testing/testPizzeria.ts';
import { MarkReady, StartCooking } from './commands/orderTransitions.ts';
import { PlaceOrder } from './commands/placeOrder.ts';
import { GetOrder } from './queries/getOrder.ts';

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

    const stream = await new PostgresEventStore(t.database).readStream(`Order-${order.id}`);
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
    const { rows } = await t.database.query(
      `SELECT FROM ${t.database.schema}.events WHERE type IN ('order.placed.v1', 'customer.registered.v1')`,
    );
    expect(rows).toEqual([]);
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
    const { rows } = await t.database.query<{ type: string; stream_id: string }>(
      `SELECT type, stream_id FROM ${t.database.schema}.events WHERE stream_id LIKE 'Customer-%' ORDER BY sequence`,
    );
    expect(rows).toEqual([
      { type: 'customer.registered.v1', stream_id: 'Customer-customer-luigi' },
      { type: 'customer.details.changed.v1', stream_id: 'Customer-customer-luigi' },
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
});
