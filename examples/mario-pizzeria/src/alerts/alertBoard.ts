import { type DocumentWriter, documents, projection } from '@myelin/core';
import {
  CookingStarted,
  DeliveryStarted,
  OrderCancelled,
  OrderDelivered,
  OrderPlaced,
  OrderReady,
} from '../domain/orderEvents.ts';
import { DeliveryOverdue, KitchenOverdue } from './alertEvents.ts';

/** An order not finished yet, where it is, and its alert if it has one. */
export interface WatchedOrder {
  readonly id: string;
  readonly stage: 'confirmed' | 'cooking' | 'ready';
  /** What it waits too long for, if it does, and since when. */
  readonly alert: 'none' | 'kitchen' | 'delivery';
  readonly since?: string | undefined;
}

/** The orders the pizzeria is still working on, and which of them wait too long. */
export const AlertBoard = documents<WatchedOrder>('alert-board');

type Writer = DocumentWriter<WatchedOrder>;

/** Moves an order on; the stage it reached clears an alert of the stage before. */
async function reach(docs: Writer, id: string, stage: WatchedOrder['stage']): Promise<void> {
  if ((await docs.get(id)) !== undefined) await docs.put(id, { id, stage, alert: 'none' });
}

/** Raises an alert if the order is still where the timeout expected it: a late timeout after the step is stale. */
async function raise(
  docs: Writer,
  id: string,
  stage: WatchedOrder['stage'],
  alert: 'kitchen' | 'delivery',
  since: string,
) {
  const order = await docs.get(id);
  if (order?.stage === stage && order.alert === 'none') await docs.put(id, { ...order, alert, since });
}

/**
 * Async, in log order: the step that clears an alert is always seen before or after its timeout, never both ways,
 * so an alert is shown only while it holds. An order leaves the board when it is out, delivered or cancelled.
 */
export const alertBoard = projection(AlertBoard, { mode: 'async' })
  .on(OrderPlaced, async (e, docs) => {
    if ((await docs.get(e.orderId)) === undefined)
      await docs.put(e.orderId, { id: e.orderId, stage: 'confirmed', alert: 'none' });
  })
  .on(CookingStarted, (e, docs) => reach(docs, e.orderId, 'cooking'))
  .on(OrderReady, (e, docs) => reach(docs, e.orderId, 'ready'))
  .on(KitchenOverdue, (e, docs) => raise(docs, e.orderId, 'confirmed', 'kitchen', e.at))
  .on(DeliveryOverdue, (e, docs) => raise(docs, e.orderId, 'ready', 'delivery', e.at))
  .on(DeliveryStarted, (e, docs) => docs.delete(e.orderId))
  .on(OrderDelivered, (e, docs) => docs.delete(e.orderId))
  .on(OrderCancelled, (e, docs) => docs.delete(e.orderId));
