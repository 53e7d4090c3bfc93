import { documents } from '@myelin/core';
import { orderSummaryProjection } from '../shared/orderSummary.ts';
import type { OrderSummary } from '../shared/views.ts';

/** Every order, by id: what `GET /api/orders/{id}` and the order list read. */
export const OrderSummaries = documents<OrderSummary>('order-summaries');

/**
 * Inline: applied in the very transaction of the command that changed the order, so an order is readable the
 * moment its 201 is sent, and a transition's 200 and the next read agree. Version 2: each summary carries its
 * customer's id, by which erasing a customer finds their orders.
 */
export const orderSummaries = orderSummaryProjection(
  OrderSummaries,
  { mode: 'inline', version: 2 },
  () => true,
);
