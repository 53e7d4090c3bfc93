// The seed's handler tests (Neuroglia's Mario's Pizzeria, part 3), rewritten for this application: the same
// commands and queries through the mediator, on an embedded PostgreSQL (PGlite) rather than memory, because the
// queries read read models that only the projections write.
import { expectFailure, expectSuccess } from '@myelin/core/testing';
import { PostgresEventStore } from '@myelin/postgres';
import { describe, expect, it } from 'vitest';
import { testPizzeria } from '../testing/testPizzeria.ts';
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
    expect(result.ok && result.location).toBe(`/api/orders/${order.id}`);
    expect(result.ok && result.position).toMatch(/^\d+\.\d+$/);

    const stream = await new PostgresEventStore(t.database).readStream(`Order-${order.id}`);
    expect(stream.map((e) => e.metadata.type)).toEqual(['order.placed.v1']);
    const customer = await new PostgresEventStore(t.database).readStream('Customer-customer-5551234');
    expect(customer.map((e) => e.metadata.type)).toEqual(['customer.registered.v1']);
    // Readable at once: the order summaries are an inline projection, written in the command's transaction.
    expect(expectSuccess(await t.app.mediator.execute(new GetOrder({ id: order.id })), 200)).toEqual(order);
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

  it('PlaceOrder reuses the customer found by phone, and keeps the details they gave last', async () => {
    await using t = await testPizzeria();
    const line = [{ name: 'supreme', size: 'small' as const, toppings: [] }];
    const first = new PlaceOrder({
      customerName: 'John',
      customerPhone: '555-0001',
      customerAddress: '1 Mushroom Way',
      pizzas: line,
    });
    expectSuccess(await t.app.mediator.execute(first), 201);
    const again = expectSuccess(
      await t.app.mediator.execute(
        new PlaceOrder({ customerName: 'John Doe', customerPhone: '(555) 0001', pizzas: line }),
      ),
      201,
    );
    // Found by phone, however it is written; the address they left out is the one they gave before.
    expect(again).toMatchObject({ customerName: 'John Doe', customerAddress: '1 Mushroom Way' });
    const { rows } = await t.database.query<{ type: string }>(
      `SELECT type FROM ${t.database.schema}.events WHERE stream_id LIKE 'Customer-%' ORDER BY sequence`,
    );
    expect(rows.map((row) => row.type)).toEqual(['customer.registered.v1', 'customer.details.changed.v1']);
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
});
