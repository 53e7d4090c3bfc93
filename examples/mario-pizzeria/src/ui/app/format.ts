// How the UI writes money, times, ids and statuses.
import { erased } from '@myelin/core';
import { type OrderStatus, orderStatuses } from '../../domain/order.ts';

const dollars = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const clock = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayAndTime = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  hour: 'numeric',
  minute: '2-digit',
});
const shortDay = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });

/** $12.99 from a number of dollars (as the API gives them). */
export const money = (amount: number): string => dollars.format(amount);

/** $12.99 from integer cents (as the UI computes them). */
export const cents = (amount: number): string => dollars.format(amount / 100);

/** The first block of an order's UUID, which staff read out loud: "#3F9A1C2B". */
export const shortId = (id: string): string => `#${id.slice(0, 8).toUpperCase()}`;

/** Whether a customer's detail is the placeholder their erasure left (`[erased]`), not what they typed. */
export const isErased = (value: string | undefined): boolean => value === erased;

/** What a screen reader says for an erased detail, and the tooltip of its mark. */
export const erasedWords = "Erased at the customer's request";

export const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** The time of day of an ISO instant, when it is today; else with its day. */
export function when(iso: string | undefined | null): string {
  if (iso === undefined || iso === null) return '';
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString() ? clock.format(date) : dayAndTime.format(date);
}

/** "just now", "4 min ago", "2 h ago", "3 days ago". */
export function ago(iso: string, now: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}

/** Whole minutes between two instants (for "waiting 12 min"). */
export const minutesBetween = (from: string, to: string | number = Date.now()): number =>
  Math.max(0, Math.floor((new Date(to).getTime() - new Date(from).getTime()) / 60_000));

/** "12 Mar" from "2025-03-12". */
export const dayLabel = (day: string): string => shortDay.format(new Date(`${day}T00:00:00Z`));

/** The words for each status, in the order an order goes through them. */
export const statusLabels: Readonly<Record<OrderStatus, string>> = {
  confirmed: 'Confirmed',
  cooking: 'In the oven',
  ready: 'Ready',
  delivering: 'On its way',
  delivered: 'Delivered',
  cancelled: 'Cancelled',
};
/** The statuses, in the order an order goes through them: the domain's own list. */
export const statuses = orderStatuses;
export type { OrderStatus };

/** "Large Margherita", "Small Pepperoni". */
export const itemTitle = (item: { readonly size: string; readonly name: string }): string =>
  `${capitalize(item.size)} ${item.name}`;

/** "+ basil, olives" or "". */
export const toppingsLine = (toppings: readonly string[]): string =>
  toppings.length === 0 ? '' : `+ ${toppings.join(', ')}`;

/** A pizza as orders and the cart show it. */
export interface ItemLike {
  readonly name: string;
  readonly size: string;
  readonly toppings: readonly string[];
  readonly price?: number;
}

/** Identical pizzas of an order counted together, in the order they first appear. */
export function groupItems<T extends ItemLike>(
  items: readonly T[],
): { item: T; count: number; price: number }[] {
  const groups = new Map<string, { item: T; count: number; price: number }>();
  for (const item of items) {
    const key = `${item.size}|${item.name}|${item.toppings.join(',')}`;
    const group = groups.get(key) ?? { item, count: 0, price: 0 };
    group.count += 1;
    group.price = Math.round((group.price + (item.price ?? 0)) * 100) / 100;
    groups.set(key, group);
  }
  return [...groups.values()];
}
