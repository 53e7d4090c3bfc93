// The handler of an order's steps. Every one does the same three things: load the order (404 when unknown), ask
// the aggregate to take the step (the state machine may refuse: 409, or 403 for another driver's order), and hand
// it back to the repository, answering with the changed order.
import { handler, type MessageDefinition, notFound, ok, unauthorized } from '@myelin/core';
import type { Order } from '../domain/order.ts';
import { Clock } from './clock.ts';
import { attempt } from './domainProblems.ts';
import type { OrderDto } from './dtos.ts';
import { Orders } from './repositories.ts';
import { mapper, OrderDtoTarget } from './views.ts';

/**
 * The handler of one step: `take` calls the aggregate's method for it, with who sends it (the principal's subject:
 * the policies let only signed-in staff send these).
 */
export function takeStep<TPayload extends { readonly id: string }>(
  definition: MessageDefinition<'command', string, TPayload, OrderDto>,
  take: (order: Order, message: Readonly<TPayload>, by: string, now: Date) => void,
) {
  return handler(
    definition,
    { orders: Orders, clock: Clock },
    async (cmd, { orders, clock }, { principal }) => {
      if (principal === undefined) return unauthorized('Sign in to take a step of an order');
      const order = await orders.get(cmd.id);
      if (order === undefined) return notFound('Order', cmd.id);
      const outcome = attempt(() => take(order, cmd, principal.subject, clock()));
      if (!outcome.ok) return outcome;
      await orders.update(order);
      // The answer shows the customer's details (read, not written by this step): an answer kept for a repeat of
      // the request is forgotten with the customer.
      return { ...ok(mapper.map(order, OrderDtoTarget)), subjects: [order.state.customer.customerId] };
    },
  );
}
