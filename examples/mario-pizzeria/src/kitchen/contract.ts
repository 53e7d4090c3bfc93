// What clients see of the kitchen: its messages and their routes (handler-free: the browser imports it).
import { command, query } from '@myelin/core';
import { get, post } from '@myelin/http/client';
import * as z from 'zod';
import { boardPage } from '../shared/boardPage.ts';
import { OrderDto, OrderPageDto } from '../shared/dtos.ts';
import { orderId, step } from '../shared/orderSteps.ts';

export const StartCooking = command('StartCooking', z.object({ id: orderId }), {
  description: 'A chef starts cooking a confirmed order',
}).returns(OrderDto);

export const MarkReady = command('MarkReady', z.object({ id: orderId }), {
  description: 'The chef marks a cooking order ready for delivery',
}).returns(OrderDto);

export const GetKitchenQueue = query('GetKitchenQueue', boardPage, {
  description: 'A page of the confirmed and cooking orders, oldest first, with how many there are in all',
}).returns(OrderPageDto);

export const kitchenRoutes = {
  startCooking: post('/api/orders/{id}/cooking', StartCooking, {
    ...step('kitchen'),
    summary: 'Start cooking',
  }),
  markReady: post('/api/orders/{id}/ready', MarkReady, { ...step('kitchen'), summary: 'Mark ready' }),
  kitchenQueue: get('/api/kitchen/queue', GetKitchenQueue, { tags: ['kitchen'], summary: 'The queue' }),
};
