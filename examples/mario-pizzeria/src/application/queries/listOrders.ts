import { handler, ok, query } from '@myelin/core';
import { z } from 'zod';
import { orderStatuses } from '../../domain/order.ts';
import { type OrderDto, type PageDto, toOrderDto } from '../dtos.ts';
import { OrderSummaries } from '../projections/orderSummaries.ts';

export const ListOrders = query(
  'ListOrders',
  z.object({
    status: z.enum(orderStatuses).optional(),
    page: z.number().int().min(1).max(10_000).default(1),
    pageSize: z.number().int().min(1).max(100).default(20),
  }),
  { description: 'A page of orders, newest first, of one status when given' },
).returns<PageDto<OrderDto>>();

export const listOrders = handler(ListOrders, { summaries: OrderSummaries }, async (q, { summaries }) => {
  const page = await summaries.find({
    where: q.status === undefined ? {} : { status: q.status },
    sort: [{ field: 'placedAt', direction: 'desc' }],
    page: q.page,
    pageSize: q.pageSize,
  });
  return ok({ ...page, items: page.items.map(toOrderDto) });
});
