import { handler, ok } from '@myelin/core';
import { DeliveryBoard } from '../projections/deliveryBoard.ts';
import { GetDeliveryBoard } from '../queries/getDeliveryBoard.ts';
import { toOrderDto } from '../views.ts';

export const getDeliveryBoard = handler(GetDeliveryBoard, { board: DeliveryBoard }, async (q, { board }) => {
  const page = await board.find({
    where: { status: { in: ['ready', 'delivering'] } },
    // Ties broken by id: a page boundary between two orders of one millisecond neither repeats nor skips one.
    sort: [{ field: 'placedAt' }, { field: 'id' }],
    page: q.page,
    pageSize: q.pageSize,
  });
  return ok({ ...page, items: page.items.map(toOrderDto) });
});
