import { documents } from '@myelin/core';
import { orderSummaryProjection } from '../shared/orderSummary.ts';
import type { OrderSummary } from '../shared/views.ts';

/** The orders the kitchen has to do: confirmed and cooking ones. */
export const KitchenQueue = documents<OrderSummary>('kitchen-queue');

/**
 * Async: kept after commit by the projection daemon (in the projector process), so the kitchen's reads never
 * slow down taking orders. An order leaves the queue when it is ready or cancelled. Each order's summary is
 * written from its own stream's events alone, so the work is split in 4 partitions that projector processes
 * share (version 2: version 1 was one partition; version 3: each summary carries its customer's id, by which
 * erasing a customer finds their orders).
 */
export const kitchenQueue = orderSummaryProjection(
  KitchenQueue,
  { mode: 'async', version: 3, partitions: 4 },
  (order) => order.status === 'confirmed' || order.status === 'cooking',
);
