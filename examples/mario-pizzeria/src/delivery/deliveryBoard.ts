import { documents } from '@myelin/core';
import { orderSummaryProjection } from '../shared/orderSummary.ts';
import type { OrderSummary } from '../shared/views.ts';

/** Orders not yet delivered nor cancelled; the board shows the ready and delivering ones. */
export const DeliveryBoard = documents<OrderSummary>('delivery-board');

/**
 * Async. It follows orders from the start (not only once ready) because an event carries only what changed:
 * the customer's address and the pizzas come with `order.placed.v1`, long before `order.ready.v1`. In 4
 * partitions, as the kitchen queue (version 2: version 1 was one partition; version 3: with the customer's id).
 */
export const deliveryBoard = orderSummaryProjection(
  DeliveryBoard,
  { mode: 'async', version: 3, partitions: 4 },
  (order) => order.status !== 'delivered' && order.status !== 'cancelled',
);
