import { documents } from '@myelin/core';
import { orderSummaryProjection } from '../shared/orderSummary.ts';
import type { OrderSummary } from '../shared/views.ts';

/** Every order, by id: what `GET /api/orders/{id}` and the order list read. */
export const OrderSummaries = documents<OrderSummary>('order-summaries');

/**
 * Inline: applied in the very transaction of the command that changed the order, so an order is readable the
 * moment its 201 is sent, and a transition's 200 and the next read agree.
 */
export const orderSummaries = orderSummaryProjection(OrderSummaries, { mode: 'inline' }, () => true);
