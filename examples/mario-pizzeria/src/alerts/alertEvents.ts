// The timeouts of an order, as events: the order watch schedules them, and when one comes due it is written to the
// log like any other fact ("the kitchen had not started it ten minutes after it was placed").
import { event } from '@myelin/core';
import * as z from 'zod';

const overdue = z.object({ orderId: z.string(), at: z.iso.datetime() });

export const KitchenOverdue = event('order.kitchen.overdue.v1', overdue, {
  description: 'The kitchen had not started the order when the kitchen alert came due',
});

export const DeliveryOverdue = event('order.delivery.overdue.v1', overdue, {
  description: 'The ready order had not left when the delivery alert came due',
});
