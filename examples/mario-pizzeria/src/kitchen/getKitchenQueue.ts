import { handler, type Module, ok } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { toOrderDto } from '../shared/views.ts';
import { GetKitchenQueue } from './contract.ts';
import { KitchenQueue } from './kitchenQueue.ts';

export const getKitchenQueue: Module = (app) =>
  app.authorize(GetKitchenQueue, { roles: [roles.chef, roles.manager] }).handle(
    handler(GetKitchenQueue, { queue: KitchenQueue }, async (q, { queue }) => {
      const page = await queue.find({
        sort: [{ field: 'placedAt' }, { field: 'id' }],
        page: q.page,
        pageSize: q.pageSize,
      });
      return ok({ ...page, items: page.items.map(toOrderDto) });
    }),
  );
