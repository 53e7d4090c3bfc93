import { handler, ok, query } from '@myelin/core';
import { type OrderDto, type PageDto, toOrderDto } from '../dtos.ts';
import { DeliveryBoard } from '../projections/deliveryBoard.ts';
import { boardPage } from './boardPage.ts';

export const GetDeliveryBoard = query('GetDeliveryBoard', boardPage, {
  description: 'A page of the ready and delivering orders, oldest first, with how many there are in all',
}).returns<PageDto<OrderDto>>();

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
