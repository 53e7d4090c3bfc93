import { handler, type Module, ok } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { toOrderDto } from '../shared/views.ts';
import { GetDeliveryBoard } from './contract.ts';
import { DeliveryBoard } from './deliveryBoard.ts';

export const getDeliveryBoard: Module = (app) =>
  app.authorize(GetDeliveryBoard, { roles: [roles.driver, roles.manager] }).handle(
    handler(GetDeliveryBoard, { board: DeliveryBoard }, async (q, { board }) => {
      const page = await board.find({
        where: { status: { in: ['ready', 'delivering'] } },
        // Ties broken by id: a page boundary between two orders of one millisecond neither repeats nor skips one.
        sort: [{ field: 'placedAt' }, { field: 'id' }],
        page: q.page,
        pageSize: q.pageSize,
      });
      return ok({ ...page, items: page.items.map(toOrderDto) });
    }),
  );
