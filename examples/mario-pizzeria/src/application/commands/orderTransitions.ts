// The steps of an order's life after it is placed, one command each. Every handler does the same three things:
// load the order (404 when unknown), ask the aggregate to take the step (the state machine may refuse: 409, or
// 403 for another driver's order), and hand it back to the repository, answering with the changed order.
import { command, handler, type MessageDefinition, notFound, ok } from '@myelin/core';
import { z } from 'zod';
import type { Order } from '../../domain/order.ts';
import { Clock } from '../clock.ts';
import { attempt } from '../domainProblems.ts';
import { mapper, OrderDto } from '../dtos.ts';
import { Orders } from '../repositories.ts';

const orderId = z.string().min(1).max(100);
/** Filled by the server from the caller's token (the route's `with`), never sent by the caller. */
const caller = z.string();

export const StartCooking = command('StartCooking', z.object({ id: orderId, chef: caller }), {
  description: 'A chef starts cooking a confirmed order',
}).returns<OrderDto>();

export const MarkReady = command('MarkReady', z.object({ id: orderId }), {
  description: 'The chef marks a cooking order ready for delivery',
}).returns<OrderDto>();

export const AssignDriver = command(
  'AssignDriver',
  z.object({ id: orderId, driverId: z.string().trim().min(1).max(100), assignedBy: caller }),
  { description: "A manager assigns a ready order to a driver (the driver's user id, their token's sub)" },
).returns<OrderDto>();

export const StartDelivery = command('StartDelivery', z.object({ id: orderId, driverId: caller }), {
  description: 'A driver takes a ready order out (the assigned driver, if one was assigned)',
}).returns<OrderDto>();

export const MarkDelivered = command('MarkDelivered', z.object({ id: orderId, driverId: caller }), {
  description: 'The driver carrying the order hands it over',
}).returns<OrderDto>();

export const CancelOrder = command('CancelOrder', z.object({ id: orderId, cancelledBy: caller }), {
  description: 'A manager cancels an order that is neither delivered nor cancelled',
}).returns<OrderDto>();

/** The handler of one step: `take` calls the aggregate's method for it. */
function step<TPayload extends { readonly id: string }>(
  definition: MessageDefinition<'command', string, TPayload, OrderDto>,
  take: (order: Order, message: Readonly<TPayload>, now: Date) => void,
) {
  return handler(definition, { orders: Orders, clock: Clock }, async (cmd, { orders, clock }) => {
    const order = await orders.get(cmd.id);
    if (order === undefined) return notFound('Order', cmd.id);
    const outcome = attempt(() => take(order, cmd, clock()));
    if (!outcome.ok) return outcome;
    await orders.update(order);
    return ok(mapper.map(order, OrderDto));
  });
}

export const startCooking = step(StartCooking, (order, cmd, now) => order.startCooking(cmd.chef, now));
export const markReady = step(MarkReady, (order, _cmd, now) => order.markReady(now));
export const assignDriver = step(AssignDriver, (order, cmd, now) =>
  order.assignDriver(cmd.driverId, cmd.assignedBy, now),
);
export const startDelivery = step(StartDelivery, (order, cmd, now) => order.startDelivery(cmd.driverId, now));
export const markDelivered = step(MarkDelivered, (order, cmd, now) => order.markDelivered(cmd.driverId, now));
export const cancelOrder = step(CancelOrder, (order, cmd, now) => order.cancel(cmd.cancelledBy, now));
