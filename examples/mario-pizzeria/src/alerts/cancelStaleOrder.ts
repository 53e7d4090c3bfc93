// The pizzeria cancels an order nobody started cooking in time, with the reason, which the customer's page shows.
// Only the order watch sends it (no route leads to it).
import { command, handler, type Module, notFound, ok } from '@myelin/core';
import * as z from 'zod';
import { Clock } from '../shared/clock.ts';
import { Orders } from '../shared/repositories.ts';

export const CancelStaleOrder = command(
  'CancelStaleOrder',
  z.object({ id: z.string(), minutes: z.number().int().positive() }),
  { description: 'Cancels an order still not cooked a while after it was placed (sent by the order watch)' },
).returns<void>();

export const cancelStaleOrder: Module = (app) =>
  app.handle(
    handler(CancelStaleOrder, { orders: Orders, clock: Clock }, async (c, { orders, clock }) => {
      const order = await orders.get(c.id);
      if (order === undefined) return notFound('Order', c.id);
      // Cooking may have started as the timeout came due: then there is nothing to do.
      if (order.state.status !== 'confirmed') return ok(undefined);
      order.cancel('pizzeria', clock(), `nobody could start cooking it within ${c.minutes} minutes`);
      await orders.update(order);
      return ok(undefined);
    }),
  );
