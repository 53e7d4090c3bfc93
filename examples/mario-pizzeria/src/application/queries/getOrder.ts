import { handler, notFound, ok, query } from '@myelin/core';
import { z } from 'zod';
import { type OrderDto, toOrderDto } from '../dtos.ts';
import { OrderSummaries } from '../projections/orderSummaries.ts';

export const GetOrder = query('GetOrder', z.object({ id: z.string().min(1).max(100) }), {
  description: 'One order, from the order summaries (inline: never behind its own 201)',
}).returns<OrderDto>();

export const getOrder = handler(GetOrder, { summaries: OrderSummaries }, async (q, { summaries }) => {
  const summary = await summaries.get(q.id);
  return summary === undefined ? notFound('Order', q.id) : ok(toOrderDto(summary));
});
