import { handler, ok } from '@myelin/core';
import { OrderSummaries } from '../projections/orderSummaries.ts';
import { ListOrders } from '../queries/listOrders.ts';
import { toOrderDto } from '../views.ts';

export const listOrders = handler(ListOrders, { summaries: OrderSummaries }, async (q, { summaries }) => {
  const page = await summaries.find({
    where: q.status === undefined ? {} : { status: q.status },
    sort: [{ field: 'placedAt', direction: 'desc' }],
    page: q.page,
    pageSize: q.pageSize,
  });
  return ok({ ...page, items: page.items.map(toOrderDto) });
});
