import { handler, notFound, ok } from '@myelin/core';
import { canReadOrder } from '../orderAccess.ts';
import { OrderSummaries } from '../projections/orderSummaries.ts';
import { GetOrder } from '../queries/getOrder.ts';
import { toOrderDto } from '../views.ts';

export const getOrder = handler(
  GetOrder,
  { summaries: OrderSummaries },
  async (q, { summaries }, context) => {
    const summary = await summaries.get(q.id);
    // Someone else's order is as unknown as one that does not exist.
    if (summary === undefined || !canReadOrder(summary, context.principal, q.key))
      return notFound('Order', q.id);
    return ok(toOrderDto(summary));
  },
);
