// How commands and queries answer: from an aggregate they changed, or from a read model's document, to the DTOs
// of dtos.ts. Inside, money is integer cents; in a DTO it is dollars.
import { createMapper, mapTarget } from '@myelin/core';
import type { MenuPizza } from '../domain/menuPizza.ts';
import { dollars } from '../domain/money.ts';
import { Order, type OrderStatus } from '../domain/order.ts';
import type { OrderItemData } from '../domain/orderItem.ts';
import type { MenuEntry } from '../menu/menuProjection.ts';
import type { MenuPizzaDto, OrderDto } from './dtos.ts';

/**
 * An order as the read models keep it: the DTO's fields, with money in cents. The order summaries, the kitchen
 * queue and the delivery board all hold these, and the commands build one from the aggregate they changed.
 */
export interface OrderSummary {
  readonly id: string;
  readonly status: OrderStatus;
  /** Whose it is (`customer-<subject>` or `guest-<order id>`): what an erasure finds the customer's orders by. */
  readonly customerId: string;
  readonly customerName: string;
  readonly customerPhone: string;
  readonly customerAddress?: string | undefined;
  readonly customerEmail?: string | undefined;
  readonly items: readonly OrderItemData[];
  readonly totalCents: number;
  readonly notes?: string | undefined;
  readonly placedAt: string;
  readonly cookingStartedAt?: string | undefined;
  readonly readyAt?: string | undefined;
  readonly driverId?: string | undefined;
  readonly deliveryStartedAt?: string | undefined;
  readonly deliveredAt?: string | undefined;
  readonly cancelledAt?: string | undefined;
  /** Why the pizzeria cancelled it by itself. */
  readonly cancelReason?: string | undefined;
  readonly chef?: string | undefined;
  /** Who may read it besides staff; never shown (see `OrderAccess`). */
  readonly placedBy?: string | undefined;
  readonly accessKeyHash?: string | undefined;
  readonly version: number;
}

/** An order summary as the API shows it: dollars, and optional fields left out when unknown (never null). */
export function toOrderDto(summary: OrderSummary): OrderDto {
  const optional = (fields: Partial<Record<keyof OrderDto, string | undefined>>) =>
    Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
  return {
    id: summary.id,
    status: summary.status,
    customerId: summary.customerId,
    customerName: summary.customerName,
    customerPhone: summary.customerPhone,
    ...optional({ customerAddress: summary.customerAddress, customerEmail: summary.customerEmail }),
    items: summary.items.map((item) => ({
      name: item.name,
      size: item.size,
      toppings: [...item.toppings],
      price: dollars(item.priceCents),
    })),
    total: dollars(summary.totalCents),
    ...optional({ notes: summary.notes }),
    placedAt: summary.placedAt,
    ...optional({
      cookingStartedAt: summary.cookingStartedAt,
      readyAt: summary.readyAt,
      driverId: summary.driverId,
      deliveryStartedAt: summary.deliveryStartedAt,
      deliveredAt: summary.deliveredAt,
      cancelledAt: summary.cancelledAt,
      cancelReason: summary.cancelReason,
      chef: summary.chef,
    }),
    version: summary.version,
  };
}

/** The summary of an order the command just changed: what its read models will hold once it commits. */
export function summaryOf(order: Order): OrderSummary {
  const { state } = order;
  if (state.status === 'new') throw new Error(`Order ${order.id} has not been placed`);
  return {
    id: order.id,
    status: state.status,
    customerId: state.customer.customerId,
    customerName: state.customer.name,
    customerPhone: state.customer.phone,
    customerAddress: state.customer.address,
    customerEmail: state.customer.email,
    items: state.items,
    totalCents: state.totalCents,
    notes: state.notes,
    placedAt: state.placedAt,
    cookingStartedAt: state.cookingStartedAt,
    readyAt: state.readyAt,
    driverId: state.driverId,
    deliveryStartedAt: state.deliveryStartedAt,
    deliveredAt: state.deliveredAt,
    cancelledAt: state.cancelledAt,
    cancelReason: state.cancelReason,
    chef: state.chef,
    placedBy: state.access.placedBy,
    accessKeyHash: state.access.accessKeyHash,
    version: order.nextVersion,
  };
}

export const OrderDtoTarget = mapTarget<OrderDto>('OrderDto');

/** Maps what commands changed to what they answer: typed pairs, so a mapping nobody registered fails to compile. */
export const mapper = createMapper().add(Order, OrderDtoTarget, (order) => toOrderDto(summaryOf(order)));

export function menuPizzaDto(pizza: MenuPizza): MenuPizzaDto {
  return {
    id: pizza.id,
    name: pizza.state.name,
    description: pizza.state.description,
    basePrice: dollars(pizza.state.basePriceCents),
    available: pizza.state.available,
  };
}

export function menuEntryDto(entry: MenuEntry): MenuPizzaDto {
  return {
    id: entry.id,
    name: entry.name,
    description: entry.description,
    basePrice: dollars(entry.basePriceCents),
    available: entry.available,
  };
}
