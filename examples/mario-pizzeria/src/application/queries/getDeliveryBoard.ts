import { query } from '@myelin/core';
import { OrderPageDto } from '../dtos.ts';
import { boardPage } from './boardPage.ts';

export const GetDeliveryBoard = query('GetDeliveryBoard', boardPage, {
  description: 'A page of the ready and delivering orders, oldest first, with how many there are in all',
}).returns(OrderPageDto);
