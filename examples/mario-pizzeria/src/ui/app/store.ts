// What the browser remembers on this device: the customer's recent orders, their cart and their details.

import type { Topping } from '../../domain/orderItem.ts';
import type { OrderDto } from '../../shared/dtos.ts';
import type { PizzaSize } from './pricing.ts';

const recentKey = 'mario.recentOrders';
const cartKey = 'mario.cart';
const detailsKey = 'mario.customer';
const keepOrders = 12;

function read<T>(key: string, fallback: T): T {
  try {
    return JSON.parse(localStorage.getItem(key) ?? 'null') ?? fallback;
  } catch {
    return fallback;
  }
}

function write(key: string, value: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // private mode or a full quota: the UI still works, it only forgets
  }
}

/** An order this device placed. `key` reads back one placed without signing in: its 201 gave it, nothing else. */
export interface RecentOrder {
  readonly id: string;
  readonly placedAt: string;
  readonly total: number;
  readonly summary: string;
  readonly key?: string;
}

/** The orders this device placed, newest first. */
export const recentOrders = (): RecentOrder[] => read<RecentOrder[]>(recentKey, []);

/** Remembers an order the customer placed, so they can come back to it. */
export function rememberOrder(order: OrderDto): void {
  const counts = new Map<string, number>();
  for (const item of order.items) counts.set(item.name, (counts.get(item.name) ?? 0) + 1);
  const summary = [...counts].map(([name, count]) => (count > 1 ? `${count} × ${name}` : name)).join(', ');
  const key = order.accessKey ?? orderKey(order.id);
  const entry = {
    id: order.id,
    placedAt: order.placedAt,
    total: order.total,
    summary,
    ...(key ? { key } : {}),
  };
  write(recentKey, [entry, ...recentOrders().filter((o) => o.id !== order.id)].slice(0, keepOrders));
}

/** The key of an order this device placed without signing in, if it has one. */
export const orderKey = (id: string): string | undefined => recentOrders().find((o) => o.id === id)?.key;

export function forgetOrder(id: string): void {
  write(
    recentKey,
    recentOrders().filter((o) => o.id !== id),
  );
}

/** A pizza in the cart, priced in cents as chosen. */
export interface CartItem {
  readonly key: string;
  readonly name: string;
  readonly size: PizzaSize;
  readonly toppings: readonly Topping[];
  readonly cents: number;
  /** How many of this pizza; the cart changes it. */
  quantity: number;
}

export const cart = (): CartItem[] => read<CartItem[]>(cartKey, []);
export const saveCart = (items: readonly CartItem[]): void => write(cartKey, items);

/** What the customer typed last time, to fill the form again. */
export interface CustomerDetails {
  readonly customerName?: string;
  readonly customerPhone?: string;
  readonly customerAddress?: string;
  readonly customerEmail?: string;
}

export const customerDetails = (): CustomerDetails => read<CustomerDetails>(detailsKey, {});
export const saveCustomerDetails = (details: CustomerDetails): void => write(detailsKey, details);
