import { handler, ok, query } from '@myelin/core';
import { z } from 'zod';
import { type OrderListDto, toOrderDto } from '../dtos.ts';
import { DeliveryBoard } from '../projections/deliveryBoard.ts';

export const GetDeliveryBoard = query('GetDeliveryBoard', z.object({}), {
  description: 'The ready and delivering orders, oldest first',
}).returns<OrderListDto>();

const most = 500;

export const getDeliveryBoard = handler(GetDeliveryBoard, { board: DeliveryBoard }, async (_q, { board }) => {
  const page = await board.find({
    where: { status: { in: ['ready', 'delivering'] } },
    sort: [{ field: 'placedAt' }],
    pageSize: most,
  });
  return ok({ items: page.items.map(toOrderDto) });
});
