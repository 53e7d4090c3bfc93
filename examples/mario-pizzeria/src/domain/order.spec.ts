import type { AnyEvent } from '@myelin/core';
import { given } from '@myelin/core/testing';
import { describe, expect, it } from 'vitest';
import { EmptyOrderError, OrderStatusError, WrongDriverError } from './domainErrors.ts';
import { Money } from './money.ts';
import { Order } from './order.ts';
import {
  CookingStarted,
  DeliveryStarted,
  DriverAssigned,
  OrderCancelled,
  OrderDelivered,
  OrderPlaced,
  OrderReady,
} from './orderEvents.ts';
import { OrderItem } from './orderItem.ts';

const at = new Date('2026-05-01T18:30:00.000Z');
const t = at.toISOString();
const customer = { customerId: 'customer-5551234', name: 'John Doe', phone: '555-1234' };
const item = OrderItem.price('Margherita', 'large', ['basil'], Money.fromDollars(12.99));

const placed = new OrderPlaced({
  orderId: 'o1',
  customerId: customer.customerId,
  customerName: customer.name,
  customerPhone: customer.phone,
  items: [{ name: 'Margherita', size: 'large', toppings: ['basil'], priceCents: 2338 }],
  totalCents: 2338,
  placedAt: t,
});
const cooking = new CookingStarted({ orderId: 'o1', chef: 'chef', at: t });
const ready = new OrderReady({ orderId: 'o1', at: t });
const assigned = new DriverAssigned({ orderId: 'o1', driverId: 'driver', assignedBy: 'manager', at: t });
const delivering = new DeliveryStarted({ orderId: 'o1', driverId: 'driver', at: t });
const delivered = new OrderDelivered({ orderId: 'o1', driverId: 'driver', at: t });
const cancelled = (previousStatus: string) =>
  new OrderCancelled({ orderId: 'o1', cancelledBy: 'manager', previousStatus, at: t });

/** Each state an order can be in, by the events that lead there. */
const histories: Record<string, readonly AnyEvent[]> = {
  confirmed: [placed],
  cooking: [placed, cooking],
  ready: [placed, cooking, ready],
  'ready (assigned)': [placed, cooking, ready, assigned],
  delivering: [placed, cooking, ready, delivering],
  delivered: [placed, cooking, ready, delivering, delivered],
  cancelled: [placed, cancelled('confirmed')],
};

/** Each step, and the event it raises when the state machine allows it. */
const steps: Record<string, { take: (order: Order) => void; raises: (status: string) => AnyEvent }> = {
  startCooking: { take: (o) => o.startCooking('chef', at), raises: () => cooking },
  markReady: { take: (o) => o.markReady(at), raises: () => ready },
  assignDriver: { take: (o) => o.assignDriver('driver', 'manager', at), raises: () => assigned },
  startDelivery: { take: (o) => o.startDelivery('driver', at), raises: () => delivering },
  markDelivered: { take: (o) => o.markDelivered('driver', at), raises: () => delivered },
  cancel: { take: (o) => o.cancel('manager', at), raises: (status) => cancelled(status) },
};

/** What the state machine allows from each state; everything else is refused. */
const allowed: Record<string, readonly string[]> = {
  confirmed: ['startCooking', 'cancel'],
  cooking: ['markReady', 'cancel'],
  ready: ['assignDriver', 'startDelivery', 'cancel'],
  'ready (assigned)': ['assignDriver', 'startDelivery', 'cancel'],
  delivering: ['markDelivered', 'cancel'],
  delivered: [],
  cancelled: [],
};

const cases = Object.keys(histories).flatMap((state) =>
  Object.keys(steps).map((step) => ({ state, step, ok: allowed[state]?.includes(step) === true })),
);

describe('the Order state machine', () => {
  it('places an order with pizzas as confirmed, with its items, total and customer', () => {
    const order = given(Order)
      .when(() => Order.place('o1', customer, [item], undefined, at))
      .thenEvents(placed);
    expect(order.state).toMatchObject({ status: 'confirmed', totalCents: 2338, placedAt: t });
    expect(order.state.customer).toMatchObject({ name: 'John Doe', phone: '555-1234' });
  });

  it('refuses an order without pizzas', () => {
    given(Order)
      .when(() => Order.place('o1', customer, [], undefined, at))
      .thenError(EmptyOrderError);
    expect(() => Order.place('o1', customer, [], undefined, at)).toThrow(
      'Order must contain at least one pizza',
    );
  });

  it.each(cases.filter((c) => c.ok))('allows $step from $state', ({ state, step }) => {
    const status = state.split(' ')[0] ?? state;
    const { take, raises } = steps[step] as (typeof steps)[string];
    given(Order, ...(histories[state] ?? []))
      .withId('o1')
      .when(take)
      .thenEvents(raises(status));
  });

  it.each(cases.filter((c) => !c.ok))('refuses $step from $state, naming the status', ({ state, step }) => {
    const status = state.split(' ')[0] ?? state;
    const { take } = steps[step] as (typeof steps)[string];
    const error = given(Order, ...(histories[state] ?? []))
      .withId('o1')
      .when(take)
      .thenError(OrderStatusError);
    expect(error.message).toContain(`is ${status}`);
    expect((error as OrderStatusError).status).toBe(status);
  });

  it('covers every step from every state', () => {
    expect(cases).toHaveLength(7 * 6);
    expect(cases.filter((c) => c.ok)).toHaveLength(12);
  });

  it('records who cooked, who delivered, and when each step happened', () => {
    const times = ['18:00', '18:05', '18:20', '18:21', '18:25', '18:45'].map(
      (hm) => new Date(`2026-05-01T${hm}:00.000Z`),
    );
    const [placedAt, cookedAt, readyAt, assignedAt, leftAt, deliveredAt] = times as [
      Date,
      Date,
      Date,
      Date,
      Date,
      Date,
    ];
    const order = Order.place('o2', customer, [item], 'Ring twice', placedAt);
    order.startCooking('luigi', cookedAt);
    order.markReady(readyAt);
    order.assignDriver('toad', 'mario', assignedAt);
    order.startDelivery('toad', leftAt);
    order.markDelivered('toad', deliveredAt);
    expect(order.state).toMatchObject({
      status: 'delivered',
      notes: 'Ring twice',
      placedAt: placedAt.toISOString(),
      chef: 'luigi',
      cookingStartedAt: cookedAt.toISOString(),
      readyAt: readyAt.toISOString(),
      driverId: 'toad',
      deliveryStartedAt: leftAt.toISOString(),
      deliveredAt: deliveredAt.toISOString(),
    });
    expect(order.nextVersion).toBe(6);
  });

  it('lets only the assigned driver take a ready order out, and only its driver hand it over', () => {
    given(Order, placed, cooking, ready, assigned)
      .withId('o1')
      .when((order) => order.startDelivery('another-driver', at))
      .thenError(WrongDriverError);
    given(Order, placed, cooking, ready)
      .withId('o1')
      .when((order) => order.startDelivery('another-driver', at))
      .thenEvents(new DeliveryStarted({ orderId: 'o1', driverId: 'another-driver', at: t }));
    given(Order, placed, cooking, ready, delivering)
      .withId('o1')
      .when((order) => order.markDelivered('another-driver', at))
      .thenError(WrongDriverError);
  });

  it('remembers who cancelled and from which status', () => {
    const order = given(Order, placed, cooking)
      .withId('o1')
      .when((o) => o.cancel('manager', at))
      .thenEvents(cancelled('cooking'));
    expect(order.state).toMatchObject({ status: 'cancelled', cancelledAt: t, cancelledBy: 'manager' });
  });
});
