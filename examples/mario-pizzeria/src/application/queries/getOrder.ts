import { handler, notFound, ok, query } from '@myelin/core';
import { z } from 'zod';
import { type OrderDto, toOrderDto } from '../dtos.ts';
import { canReadOrder } from '../orderAccess.ts';
import { OrderSummaries } from '../projections/orderSummaries.ts';

export const GetOrder = query(
  'GetOrder',
  z.object({
    id: z.string().min(1).max(100),
    /** The key an anonymous order's 201 gave; staff and the signed-in customer who placed it need none. */
    key: z.string().max(100).optional(),
  }),
  { description: 'One order, to staff and to its own customer (inline: never behind its own 201)' },
).returns<OrderDto>();

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
