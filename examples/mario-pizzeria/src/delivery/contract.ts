// What clients see of deliveries: their messages and routes (handler-free: the browser imports it).
import { command, query } from '@myelin/core';
import { get, post } from '@myelin/http/client';
import * as z from 'zod';
import { boardPage } from '../shared/boardPage.ts';
import { OrderDto, OrderPageDto } from '../shared/dtos.ts';
import { orderId, step } from '../shared/orderSteps.ts';

export const AssignDriver = command(
  'AssignDriver',
  z.object({ id: orderId, driverId: z.string().trim().min(1).max(100) }),
  { description: "A manager assigns a ready order to a driver (the driver's user id, their token's sub)" },
).returns(OrderDto);

export const StartDelivery = command('StartDelivery', z.object({ id: orderId }), {
  description: 'A driver takes a ready order out (the assigned driver, if one was assigned)',
}).returns(OrderDto);

export const MarkDelivered = command('MarkDelivered', z.object({ id: orderId }), {
  description: 'The driver carrying the order hands it over',
}).returns(OrderDto);

export const GetDeliveryBoard = query('GetDeliveryBoard', boardPage, {
  description: 'A page of the ready and delivering orders, oldest first, with how many there are in all',
}).returns(OrderPageDto);

export const deliveryRoutes = {
  assignDriver: post('/api/orders/{id}/assignment', AssignDriver, {
    ...step('delivery'),
    summary: 'Assign a driver',
  }),
  startDelivery: post('/api/orders/{id}/delivery', StartDelivery, {
    ...step('delivery'),
    summary: 'Take the order out',
  }),
  markDelivered: post('/api/orders/{id}/delivered', MarkDelivered, {
    ...step('delivery'),
    summary: 'Hand the order over',
  }),
  deliveryBoard: get('/api/delivery/ready', GetDeliveryBoard, { tags: ['delivery'], summary: 'The board' }),
};
