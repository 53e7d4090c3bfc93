import { query } from '@myelin/core';
import { z } from 'zod';
import { orderStatuses } from '../../domain/order.ts';
import { OrderPageDto } from '../dtos.ts';

export const ListOrders = query(
  'ListOrders',
  z.object({
    status: z.enum(orderStatuses).optional(),
    page: z.number().int().min(1).max(10_000).default(1),
    pageSize: z.number().int().min(1).max(100).default(20),
  }),
  { description: 'A page of orders, newest first, of one status when given' },
).returns(OrderPageDto);
