import { handler, ok } from '@myelin/core';
import { KitchenQueue } from '../projections/kitchenQueue.ts';
import { GetKitchenQueue } from '../queries/getKitchenQueue.ts';
import { toOrderDto } from '../views.ts';

export const getKitchenQueue = handler(GetKitchenQueue, { queue: KitchenQueue }, async (q, { queue }) => {
  const page = await queue.find({
    sort: [{ field: 'placedAt' }, { field: 'id' }],
    page: q.page,
    pageSize: q.pageSize,
  });
  return ok({ ...page, items: page.items.map(toOrderDto) });
});
