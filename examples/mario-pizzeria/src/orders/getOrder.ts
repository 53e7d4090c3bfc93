import { handler, type Module, notFound, ok } from '@myelin/core';
import { toOrderDto } from '../shared/views.ts';
import { GetOrder } from './contract.ts';
import { canReadOrder } from './orderAccess.ts';
import { OrderSummaries } from './orderSummaries.ts';

export const getOrder: Module = (app) =>
  app
    // Anyone may follow an order they may read (its id is a UUID; someone else's is a 404).
    .authorize(GetOrder, { anonymous: true })
    .handle(
      handler(GetOrder, { summaries: OrderSummaries }, async (q, { summaries }, context) => {
        const summary = await summaries.get(q.id);
        // Someone else's order is as unknown as one that does not exist.
        if (summary === undefined || !canReadOrder(summary, context.principal, q.key))
          return notFound('Order', q.id);
        return ok(toOrderDto(summary));
      }),
    );
