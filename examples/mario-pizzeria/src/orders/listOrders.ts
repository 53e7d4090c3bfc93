import { handler, type Module, ok } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { toOrderDto } from '../shared/views.ts';
import { ListOrders } from './contract.ts';
import { OrderSummaries } from './orderSummaries.ts';

export const listOrders: Module = (app) =>
  app
    // Staff only: the list shows every customer.
    .authorize(ListOrders, { roles: [roles.chef, roles.driver, roles.manager] })
    .handle(
      handler(ListOrders, { summaries: OrderSummaries }, async (q, { summaries }) => {
        const page = await summaries.find({
          where: q.status === undefined ? {} : { status: q.status },
          sort: [{ field: 'placedAt', direction: 'desc' }],
          page: q.page,
          pageSize: q.pageSize,
        });
        return ok({ ...page, items: page.items.map(toOrderDto) });
      }),
    );
