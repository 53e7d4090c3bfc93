// What happens to an order, as events: each name is its identity in the log forever, hence the version suffix.
// The payloads carry everything the read models need, so projections never look anything up.
import { event } from '@myelin/core';
import * as z from 'zod';
import { sizes } from './orderItem.ts';

const at = z.iso.datetime();

export const OrderPlaced = event(
  'order.placed.v1',
  z.object({
    orderId: z.string(),
    // Whose the order is: `customer-<token subject>` for a signed-in customer, `guest-<order id>` for an order
    // placed without signing in (see customer.ts). The subject of its personal data.
    customerId: z.string(),
    // The customer's details as they were for this order: where it goes, whom to call.
    customerName: z.string(),
    customerPhone: z.string(),
    customerAddress: z.string().optional(),
    customerEmail: z.string().optional(),
    items: z.array(
      z.object({
        name: z.string(),
        size: z.enum(sizes),
        toppings: z.array(z.string()),
        priceCents: z.number().int(),
      }),
    ),
    totalCents: z.number().int(),
    notes: z.string().optional(),
    placedAt: at,
    // Who may read the order's personal data besides staff: the signed-in customer who placed it (their token's
    // subject), or whoever holds the key its 201 gave (kept as a hash). Orders placed before these existed have
    // neither: staff alone read them.
    placedBy: z.string().optional(),
    accessKeyHash: z.string().optional(),
  }),
  {
    description: 'An order was placed and, having at least one pizza, confirmed',
    // The customer's: sealed in the log under their own key, and placeholders once they are erased. The notes too,
    // being what they typed ("leave it with Mrs Rossi next door"). And what let them read the order back: erased,
    // it reads as absent, so that a read model rebuilt after the erasure gives them no access, as its erasure hook
    // took it away (the token subject in placedBy is in the customer id anyway, which stays in clear to find them).
    personal: {
      subject: 'customerId',
      fields: ['customerName', 'customerPhone', 'customerAddress', 'customerEmail', 'notes'],
      placeholders: { placedBy: undefined, accessKeyHash: undefined },
    },
  },
);

export const CookingStarted = event(
  'order.cooking.started.v1',
  z.object({ orderId: z.string(), chef: z.string(), at }),
  { description: 'A chef started cooking the order' },
);

/** Shared with other services (a delivery app, a notifier) on the bus: an integration event. */
export const OrderReady = event('order.ready.v1', z.object({ orderId: z.string(), at }), {
  description: 'The order is cooked and waits for a driver',
  integration: true,
});

export const DriverAssigned = event(
  'order.driver.assigned.v1',
  z.object({ orderId: z.string(), driverId: z.string(), assignedBy: z.string(), at }),
  { description: 'A manager assigned a driver to a ready order' },
);

export const DeliveryStarted = event(
  'order.delivery.started.v1',
  z.object({ orderId: z.string(), driverId: z.string(), at }),
  { description: 'A driver left with the order' },
);

/** Shared with other services on the bus: an integration event. */
export const OrderDelivered = event(
  'order.delivered.v1',
  z.object({ orderId: z.string(), driverId: z.string(), at }),
  { description: 'The driver handed the order over', integration: true },
);

export const OrderCancelled = event(
  'order.cancelled.v1',
  z.object({
    orderId: z.string(),
    cancelledBy: z.string(),
    previousStatus: z.string(),
    at,
    // Why, when the pizzeria cancelled it by itself (a stale order); absent when a manager did.
    reason: z.string().optional(),
  }),
  { description: 'A manager cancelled the order, or the pizzeria did (with the reason)' },
);

export type OrderEvent =
  | InstanceType<typeof OrderPlaced>
  | InstanceType<typeof CookingStarted>
  | InstanceType<typeof OrderReady>
  | InstanceType<typeof DriverAssigned>
  | InstanceType<typeof DeliveryStarted>
  | InstanceType<typeof OrderDelivered>
  | InstanceType<typeof OrderCancelled>;

/** Every event of the Order aggregate: its repository turns stored events back into these. */
export const orderEvents = [
  OrderPlaced,
  CookingStarted,
  OrderReady,
  DriverAssigned,
  DeliveryStarted,
  OrderDelivered,
  OrderCancelled,
] as const;
