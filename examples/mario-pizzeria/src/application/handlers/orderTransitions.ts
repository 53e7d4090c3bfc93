// The handlers of an order's steps. Every one does the same three things: load the order (404 when unknown), ask
// the aggregate to take the step (the state machine may refuse: 409, or 403 for another driver's order), and hand
// it back to the repository, answering with the changed order.
import { handler, type MessageDefinition, notFound, ok } from '@myelin/core';
import type { Order } from '../../domain/order.ts';
import { Clock } from '../clock.ts';
import {
  AssignDriver,
  CancelOrder,
  MarkDelivered,
  MarkReady,
  StartCooking,
  StartDelivery,
} from '../commands/orderTransitions.ts';
import { attempt } from '../domainProblems.ts';
import { mapper, OrderDto } from '../dtos.ts';
import { Orders } from '../repositories.ts';

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
