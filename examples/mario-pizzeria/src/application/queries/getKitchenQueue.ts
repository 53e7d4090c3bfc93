import { handler, ok, query } from '@myelin/core';
import { type OrderDto, type PageDto, toOrderDto } from '../dtos.ts';
import { KitchenQueue } from '../projections/kitchenQueue.ts';
import { boardPage } from './boardPage.ts';

export const GetKitchenQueue = query('GetKitchenQueue', boardPage, {
  description: 'A page of the confirmed and cooking orders, oldest first, with how many there are in all',
}).returns<PageDto<OrderDto>>();

export const getKitchenQueue = handler(GetKitchenQueue, { queue: KitchenQueue }, async (q, { queue }) => {
  const page = await queue.find({
    sort: [{ field: 'placedAt' }, { field: 'id' }],
    page: q.page,
    pageSize: q.pageSize,
  });
  return ok({ ...page, items: page.items.map(toOrderDto) });
});
