// The steps of an order's life after it is placed, one command each; handlers/orderTransitions.ts handles them.
// Who takes a step (the chef, the driver, the manager) is the principal who sends it, never a field of the
// message: a command arriving by another transport is as trustworthy as one over HTTP.
import { command } from '@myelin/core';
import { z } from 'zod';
import { OrderDto } from '../dtos.ts';

const orderId = z.string().min(1).max(100);

export const StartCooking = command('StartCooking', z.object({ id: orderId }), {
  description: 'A chef starts cooking a confirmed order',
}).returns(OrderDto);

export const MarkReady = command('MarkReady', z.object({ id: orderId }), {
  description: 'The chef marks a cooking order ready for delivery',
}).returns(OrderDto);

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

export const CancelOrder = command('CancelOrder', z.object({ id: orderId }), {
  description: 'A manager cancels an order that is neither delivered nor cancelled',
}).returns(OrderDto);
