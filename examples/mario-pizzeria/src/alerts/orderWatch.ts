import { processManager, unchecked } from '@myelin/core';
import {
  CookingStarted,
  DeliveryStarted,
  OrderCancelled,
  OrderDelivered,
  OrderPlaced,
  OrderReady,
} from '../domain/orderEvents.ts';
import { DeliveryOverdue, KitchenOverdue } from './alertEvents.ts';
import { CancelStaleOrder } from './cancelStaleOrder.ts';

/** When an order waits too long, in minutes: README.md lists the settings that change them. */
export interface AlertTimes {
  /** Confirmed and not cooking after this long: the kitchen alert. */
  readonly kitchenMinutes: number;
  /** Ready and not out after this long: the delivery alert. */
  readonly deliveryMinutes: number;
  /** Not cooking after this long: the pizzeria cancels the order. */
  readonly staleMinutes: number;
}

export const defaultAlertTimes: AlertTimes = { kitchenMinutes: 10, deliveryMinutes: 15, staleMinutes: 60 };

const minutes = (n: number) => n * 60_000;

/**
 * Watches each order from placed to out of the door: schedules the kitchen alert and the stale-order cancellation
 * when it is placed, cancels both when cooking starts, schedules the delivery alert when it is ready, and ends when
 * it leaves, is delivered or cancelled. The times count from the order's own events (placed, ready).
 */
export function orderWatch(times: AlertTimes) {
  return processManager('order-watch', {
    state: unchecked<{ readonly stage: 'confirmed' | 'cooking' | 'ready' }>(),
    correlation: 'orderId',
    sends: [CancelStaleOrder],
  })
    .startedBy(OrderPlaced, (e, step) => {
      const placed = Date.parse(e.placedAt);
      const kitchenAt = new Date(placed + minutes(times.kitchenMinutes));
      step.schedule(
        new KitchenOverdue({ orderId: e.orderId, at: kitchenAt.toISOString() }),
        { at: kitchenAt },
        'kitchen',
      );
      step.schedule(
        new CancelStaleOrder({ id: e.orderId, minutes: times.staleMinutes }),
        { at: new Date(placed + minutes(times.staleMinutes)) },
        'stale',
      );
      return { stage: 'confirmed' };
    })
    .on(CookingStarted, (_state, _e, step) => {
      step.cancel('kitchen');
      step.cancel('stale');
      return { stage: 'cooking' };
    })
    .on(OrderReady, (_state, e, step) => {
      const deliveryAt = new Date(Date.parse(e.at) + minutes(times.deliveryMinutes));
      step.schedule(
        new DeliveryOverdue({ orderId: e.orderId, at: deliveryAt.toISOString() }),
        { at: deliveryAt },
        'delivery',
      );
      return { stage: 'ready' };
    })
    .on(DeliveryStarted, (state, _e, step) => {
      step.complete();
      return state;
    })
    .on(OrderDelivered, (state, _e, step) => {
      step.complete();
      return state;
    })
    .on(OrderCancelled, (state, _e, step) => {
      step.complete();
      return state;
    });
}
