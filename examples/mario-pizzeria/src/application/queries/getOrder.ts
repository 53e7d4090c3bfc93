import { query } from '@myelin/core';
import { z } from 'zod';
import { OrderDto } from '../dtos.ts';

export const GetOrder = query(
  'GetOrder',
  z.object({
    id: z.string().min(1).max(100),
    /** The key an anonymous order's 201 gave; staff and the signed-in customer who placed it need none. */
    key: z.string().max(100).optional(),
  }),
  { description: 'One order, to staff and to its own customer (inline: never behind its own 201)' },
).returns(OrderDto);
