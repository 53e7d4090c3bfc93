import { eventHandler } from '@myelin/core';
import { OrderDelivered } from '../domain/orderEvents.ts';
import { Customers, Orders } from '../shared/repositories.ts';

/**
 * When an order is delivered, its customer's count of delivered orders goes up: a reaction on the write side,
 * delivered after commit by the event relay (at least once). Idempotent: the relay records the event's id in
 * its inbox in this handler's own transaction, so a redelivery does not count twice.
 */
export const countDeliveries = eventHandler(
  { name: 'customers.countDeliveries', idempotent: true },
  OrderDelivered,
  { orders: Orders, customers: Customers },
  async (event, { orders, customers }) => {
    const order = await orders.get(event.orderId);
    if (order === undefined) return;
    const customer = await customers.get(order.state.customer.customerId);
    if (customer === undefined) return;
    customer.recordDelivery(order.id);
    await customers.update(customer);
  },
);
