// The seed's second document (Neuroglia's Mario's Pizzeria, part 3) as tests: PlaceOrder and GetOrderById,
// written with Myelin and tested with @myelin/core/testing. Where the seed crashes or answers 400, we answer 404.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { token } from '../dependencyInjection/token.ts';
import { AggregateRoot } from '../domain/aggregateRoot.ts';
import {
  inMemoryEventSourcedRepository,
  inMemoryStateStoredRepository,
} from '../inMemory/inMemoryRepositories.ts';
import { createMapper, mapTarget } from '../mapping/mapper.ts';
import { handler } from '../mediation/handler.ts';
import { command, event, query } from '../messages/message.ts';
import type { QueryableRepository, Repository } from '../persistence/repository.ts';
import { badRequest, created, notFound, ok } from '../results/operationResult.ts';
import { given } from './aggregateSpec.ts';
import { expectFailure, expectSuccess, testApplication } from './handlerSpec.ts';

const prices: Record<string, number> = { margherita: 1299, pepperoni: 1499, supreme: 1799 };

const OrderPlaced = event(
  'order.placed.v1',
  z.object({
    customerId: z.string(),
    items: z.array(z.object({ name: z.string(), size: z.string(), priceCents: z.number() })),
  }),
);
const OrderConfirmed = event('order.confirmed.v1', z.object({}));
type OrderEvent = InstanceType<typeof OrderPlaced> | InstanceType<typeof OrderConfirmed>;

interface OrderState {
  customerId: string;
  items: { name: string; size: string; priceCents: number }[];
  status: 'new' | 'placed' | 'confirmed';
}

class Order extends AggregateRoot<OrderState, OrderEvent> {
  constructor(id: string) {
    super(id, { customerId: '', items: [], status: 'new' });
  }
  static place(id: string, customerId: string, items: OrderState['items']): Order {
    if (items.length === 0) throw new Error('Order must contain at least one pizza');
    const order = new Order(id);
    order.raise(new OrderPlaced({ customerId, items }));
    order.raise(new OrderConfirmed({}));
    return order;
  }
  get totalCents(): number {
    return this.state.items.reduce((sum, item) => sum + item.priceCents, 0);
  }
  protected override apply(state: OrderState, event: OrderEvent): OrderState {
    if (event instanceof OrderPlaced)
      return { ...state, customerId: event.customerId, items: event.items, status: 'placed' };
    return { ...state, status: 'confirmed' };
  }
}

const CustomerRegistered = event('customer.registered.v1', z.object({ name: z.string(), phone: z.string() }));
class Customer extends AggregateRoot<
  { name: string; phone: string },
  InstanceType<typeof CustomerRegistered>
> {
  constructor(id: string) {
    super(id, { name: '', phone: '' });
  }
  static register(id: string, name: string, phone: string): Customer {
    const customer = new Customer(id);
    customer.raise(new CustomerRegistered({ name, phone }));
    return customer;
  }
  protected override apply(
    _state: { name: string; phone: string },
    event: InstanceType<typeof CustomerRegistered>,
  ) {
    return { name: event.name, phone: event.phone };
  }
}

interface OrderDto {
  id: string;
  status: string;
  customerName?: string;
  customerPhone?: string;
  pizzas: { name: string; size: string; price: number }[];
  total: number;
}
const OrderDto = mapTarget<OrderDto>('OrderDto');
const mapper = createMapper().add(Order, OrderDto, (order) => ({
  id: order.id,
  status: order.state.status,
  pizzas: order.state.items.map((item) => ({
    name: item.name,
    size: item.size,
    price: item.priceCents / 100,
  })),
  total: order.totalCents / 100,
}));

const Orders = token<Repository<Order>>('Orders');
const Customers = token<QueryableRepository<Customer>>('Customers');

const PlaceOrder = command(
  'PlaceOrder',
  z.object({
    customerName: z.string().min(1),
    customerPhone: z.string().min(1),
    pizzas: z.array(
      z.object({
        name: z.enum(['margherita', 'pepperoni', 'supreme']),
        size: z.enum(['small', 'medium', 'large']),
      }),
    ),
  }),
).returns<OrderDto>();
const GetOrderById = query('GetOrderById', z.object({ orderId: z.string() })).returns<OrderDto>();

let nextId = 0;
const placeOrder = handler(
  PlaceOrder,
  { orders: Orders, customers: Customers },
  async (cmd, { orders, customers }) => {
    if (cmd.pizzas.length === 0) return badRequest('Order must contain at least one pizza');
    const found = await customers.find({ where: { phone: cmd.customerPhone } });
    let customer = found.items[0];
    if (customer === undefined) {
      customer = Customer.register(`customer-${++nextId}`, cmd.customerName, cmd.customerPhone);
      await customers.add(customer);
    }
    const items = cmd.pizzas.map((p) => ({ ...p, priceCents: prices[p.name] ?? 0 }));
    const order = Order.place(`order-${++nextId}`, customer.id, items);
    await orders.add(order);
    return created(
      {
        ...mapper.map(order, OrderDto),
        customerName: customer.state.name,
        customerPhone: customer.state.phone,
      },
      `/api/orders/${order.id}`,
    );
  },
);

const getOrderById = handler(
  GetOrderById,
  { orders: Orders, customers: Customers },
  async (q, { orders, customers }) => {
    const order = await orders.get(q.orderId);
    if (order === undefined) return notFound('Order', q.orderId);
    const customer = await customers.get(order.state.customerId);
    return ok({
      ...mapper.map(order, OrderDto),
      customerName: customer?.state.name ?? '',
      customerPhone: customer?.state.phone ?? '',
    });
  },
);

const pizzeria = () =>
  testApplication((app) =>
    app
      .register(inMemoryEventSourcedRepository(Orders, Order, { events: [OrderPlaced, OrderConfirmed] }))
      .register(inMemoryStateStoredRepository(Customers, Customer))
      .handle(placeOrder, getOrderById),
  );

describe("the seed's Mario's Pizzeria, part 3", () => {
  it('PlaceOrder with a pizza answers 201 with the confirmed order and commits its events', async () => {
    await using t = await pizzeria();
    const result = await t.execute(
      new PlaceOrder({
        customerName: 'John Doe',
        customerPhone: '555-1234',
        pizzas: [{ name: 'margherita', size: 'large' }],
      }),
    );
    const order = expectSuccess(result, 201);
    expect(order).toMatchObject({
      status: 'confirmed',
      customerName: 'John Doe',
      customerPhone: '555-1234',
      total: 12.99,
    });
    expect(result.ok && result.location).toBe(`/api/orders/${order.id}`);
    expect(t.events.map((e) => e.metadata.type)).toEqual([
      'customer.registered.v1',
      'order.placed.v1',
      'order.confirmed.v1',
    ]);
    expect((await t.eventsOf(OrderPlaced))[0]?.items).toEqual([
      { name: 'margherita', size: 'large', priceCents: 1299 },
    ]);
  });

  it('PlaceOrder with no pizzas answers 400 "at least one pizza" and stores nothing', async () => {
    await using t = await pizzeria();
    const problem = expectFailure(
      await t.execute(new PlaceOrder({ customerName: 'John Doe', customerPhone: '555-1234', pizzas: [] })),
      400,
    );
    expect(problem.detail?.toLowerCase()).toContain('at least one pizza');
    expect(t.events).toEqual([]);
  });

  it('PlaceOrder reuses the customer found by phone', async () => {
    await using t = await pizzeria();
    const line = [{ name: 'supreme' as const, size: 'small' as const }];
    await t.execute(new PlaceOrder({ customerName: 'John', customerPhone: '555-1', pizzas: line }));
    await t.execute(new PlaceOrder({ customerName: 'John', customerPhone: '555-1', pizzas: line }));
    expect(await t.eventsOf(CustomerRegistered)).toHaveLength(1);
    expect(await t.eventsOf(OrderPlaced)).toHaveLength(2);
  });

  it('GetOrderById for an unknown id answers 404 naming the entity and the id', async () => {
    await using t = await pizzeria();
    const problem = expectFailure(await t.execute(new GetOrderById({ orderId: 'nonexistent' })), 404);
    expect(problem.detail).toBe(
      "Failed to find an entity of type 'Order' with the specified id 'nonexistent'",
    );
  });

  it("GetOrderById for a known id answers 200 with the customer's name and phone mapped in", async () => {
    await using t = await pizzeria();
    const placed = expectSuccess(
      await t.execute(
        new PlaceOrder({
          customerName: 'Jane Roe',
          customerPhone: '555-9876',
          pizzas: [{ name: 'pepperoni', size: 'medium' }],
        }),
      ),
    );
    const order = expectSuccess(await t.execute(new GetOrderById({ orderId: placed.id })), 200);
    expect(order).toEqual({ ...placed });
    expect(order).toMatchObject({ customerName: 'Jane Roe', customerPhone: '555-9876', status: 'confirmed' });
  });

  it('the Order aggregate raises OrderPlaced and OrderConfirmed, and refuses an empty order', () => {
    given(Order)
      .when(() => Order.place('o1', 'c1', [{ name: 'margherita', size: 'small', priceCents: 1039 }]))
      .thenEvents(
        new OrderPlaced({
          customerId: 'c1',
          items: [{ name: 'margherita', size: 'small', priceCents: 1039 }],
        }),
        new OrderConfirmed({}),
      );
    given(Order)
      .when(() => Order.place('o1', 'c1', []))
      .thenError('at least one pizza');
  });
});
