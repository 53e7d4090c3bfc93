// What clients see of orders: the messages, and the routes that carry them. Handler-free, so the browser imports
// it; each use case (placeOrder.ts, getOrder.ts, ...) handles its message and says who may send it.
import { command, query } from '@myelin/core';
import { get, post } from '@myelin/http/client';
import * as z from 'zod';
import { orderStatuses } from '../domain/order.ts';
import { sizes, toppings } from '../domain/orderItem.ts';
import { OrderDto, OrderPageDto } from '../shared/dtos.ts';
import { orderId, step } from '../shared/orderSteps.ts';
import { shownText } from '../shared/shownText.ts';

/**
 * Optional text fields of a form: an empty one counts as not given. Addresses and notes may run over lines (a
 * postal address, the notes' text area); names may not.
 */
const optionalText = (max: number) => shownText(max, { lines: true }).optional();

export const PizzaLine = z.object({
  name: z.string().trim().min(1).max(60),
  size: z.enum(sizes),
  toppings: z
    .array(z.enum(toppings))
    .max(toppings.length)
    .refine((chosen) => new Set(chosen).size === chosen.length, 'Each topping can be chosen once')
    .default([]),
});

export const PlaceOrder = command(
  'PlaceOrder',
  z.object({
    customerName: shownText(100).pipe(z.string().min(1)),
    customerPhone: z
      .string()
      .trim()
      .max(30)
      .regex(/^\+?[0-9 ()./-]*$/, 'Use digits, spaces and + ( ) . / -')
      .refine((phone) => phone.replaceAll(/\D/g, '').length >= 3, 'A phone number has at least 3 digits'),
    customerAddress: optionalText(200),
    customerEmail: z.union([z.email().max(200), z.literal('')]).optional(),
    // No minimum here: an empty order is the domain's rule, answered with its own words.
    pizzas: z.array(PizzaLine).max(20),
    notes: optionalText(500),
  }),
  {
    description:
      'Places an order. Signed in as a customer, it keeps the details given on their profile; without signing in, they stay on this order alone, and the 201 gives the key that reads it back.',
  },
).returns(OrderDto);

export const GetOrder = query(
  'GetOrder',
  z.object({
    id: z.string().min(1).max(100),
    /** The key an anonymous order's 201 gave; staff and the signed-in customer who placed it need none. */
    key: z.string().max(100).optional(),
  }),
  { description: 'One order, to staff and to its own customer (inline: never behind its own 201)' },
).returns(OrderDto);

export const ListOrders = query(
  'ListOrders',
  z.object({
    status: z.enum(orderStatuses).optional(),
    page: z.number().int().min(1).max(10_000).default(1),
    pageSize: z.number().int().min(1).max(100).default(20),
  }),
  { description: 'A page of orders, newest first, of one status when given' },
).returns(OrderPageDto);

export const CancelOrder = command('CancelOrder', z.object({ id: orderId }), {
  description: 'A manager cancels an order that is neither delivered nor cancelled',
}).returns(OrderDto);

export const ordersRoutes = {
  placeOrder: post('/api/orders', PlaceOrder, { tags: ['orders'], summary: 'Place an order' }),
  getOrder: get('/api/orders/{id}', GetOrder, {
    etag: (order) => order.version,
    problems: [404],
    tags: ['orders'],
    summary: 'One order',
  }),
  listOrders: get('/api/orders', ListOrders, { tags: ['orders'], summary: 'Orders, newest first' }),
  cancelOrder: post('/api/orders/{id}/cancellation', CancelOrder, {
    ...step('orders'),
    summary: 'Cancel the order',
  }),
};
