import { query } from '@myelin/core';
import { OrderPageDto } from '../dtos.ts';
import { boardPage } from './boardPage.ts';

export const GetKitchenQueue = query('GetKitchenQueue', boardPage, {
  description: 'A page of the confirmed and cooking orders, oldest first, with how many there are in all',
}).returns(OrderPageDto);
