// What the API shows, declared once: these schemas type the handlers' results, document every response in
// OpenAPI, and type the browser's client. Money is in dollars here (integer cents inside). No handler and no
// database is imported, so the browser can import this file.
import * as z from 'zod';
import { type OrderStatus, orderStatuses } from '../domain/order.ts';
import { sizes, toppings } from '../domain/orderItem.ts';

const instant = z.iso.datetime();

export const OrderItemDto = z
  .object({
    name: z.string(),
    size: z.enum(sizes),
    toppings: z.array(z.string()).readonly(),
    price: z.number().describe('In dollars'),
  })
  .meta({ id: 'OrderItemDto' });
export type OrderItemDto = z.output<typeof OrderItemDto>;

export const OrderDto = z
  .object({
    id: z.string(),
    status: z.enum(orderStatuses),
    customerId: z
      .string()
      .describe(
        'Whose order it is: customer-<user id> when placed signed in, guest-<order id> when not; what DELETE /api/customers/{customerId} takes',
      ),
    customerName: z.string(),
    customerPhone: z.string(),
    customerAddress: z.string().optional(),
    customerEmail: z.string().optional(),
    items: z.array(OrderItemDto).readonly(),
    total: z.number().describe('In dollars'),
    notes: z.string().optional(),
    placedAt: instant,
    cookingStartedAt: instant.optional(),
    readyAt: instant.optional(),
    driverId: z.string().optional(),
    deliveryStartedAt: instant.optional(),
    deliveredAt: instant.optional(),
    cancelledAt: instant.optional(),
    cancelReason: z.string().optional().describe('Why the pizzeria cancelled the order by itself'),
    chef: z.string().optional(),
    version: z.number().int().describe('How many events the order has: its ETag'),
    accessKey: z
      .string()
      .optional()
      .describe(
        'Only in the 201 of an order placed without signing in: the key that reads it back (the Location carries it too). Shown once; only its hash is kept.',
      ),
  })
  .meta({ id: 'OrderDto' });
export type OrderDto = z.output<typeof OrderDto>;

export const MenuPizzaDto = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    basePrice: z.number().describe('In dollars, for a medium pizza'),
    available: z.boolean(),
  })
  .meta({ id: 'MenuPizzaDto' });
export type MenuPizzaDto = z.output<typeof MenuPizzaDto>;

export const MenuDto = z
  .object({
    items: z.array(MenuPizzaDto).readonly(),
    toppings: z.array(z.enum(toppings)).readonly().describe('The toppings any pizza can have'),
  })
  .meta({ id: 'MenuDto' });
export type MenuDto = z.output<typeof MenuDto>;

/** A page of orders. */
export const OrderPageDto = z
  .object({
    items: z.array(OrderDto).readonly(),
    total: z.number().int(),
    page: z.number().int(),
    pageSize: z.number().int(),
  })
  .meta({ id: 'OrderPageDto' });
export type OrderPageDto = z.output<typeof OrderPageDto>;

const count = z.number().int();

export const StatisticsDto = z
  .object({
    ordersByStatus: z.object({
      confirmed: count,
      cooking: count,
      ready: count,
      delivering: count,
      delivered: count,
      cancelled: count,
    }) satisfies z.ZodType<Record<OrderStatus, number>>,
    revenue: z.number().describe('Of orders not cancelled, in dollars'),
    topPizzas: z.array(z.object({ name: z.string(), count: z.number().int() })).readonly(),
    averageMinutesToReady: z.number().nullable(),
    revenueByDay: z
      .array(z.object({ day: z.iso.date(), revenue: z.number().describe('In dollars') }))
      .readonly(),
  })
  .meta({ id: 'StatisticsDto' });
export type StatisticsDto = z.output<typeof StatisticsDto>;
