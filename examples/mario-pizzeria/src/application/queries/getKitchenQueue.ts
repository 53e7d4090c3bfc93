import { handler, ok, query } from '@myelin/core';
import { z } from 'zod';
import { type OrderListDto, toOrderDto } from '../dtos.ts';
import { KitchenQueue } from '../projections/kitchenQueue.ts';

export const GetKitchenQueue = query('GetKitchenQueue', z.object({}), {
  description: 'The confirmed and cooking orders, oldest first',
}).returns<OrderListDto>();

/** A kitchen never has more than this many orders open; past it, the oldest show first. */
const most = 500;

export const getKitchenQueue = handler(GetKitchenQueue, { queue: KitchenQueue }, async (_q, { queue }) => {
  const page = await queue.find({ sort: [{ field: 'placedAt' }], pageSize: most });
  return ok({ items: page.items.map(toOrderDto) });
});
