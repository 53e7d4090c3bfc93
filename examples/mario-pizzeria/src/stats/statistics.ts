import { type DocumentWriter, documents, projection } from '@myelin/core';
import { type OrderStatus, orderStatuses } from '../domain/order.ts';
import {
  CookingStarted,
  DeliveryStarted,
  OrderCancelled,
  OrderDelivered,
  OrderPlaced,
  OrderReady,
} from '../domain/orderEvents.ts';

/** What the statistics remember of each order: enough to undo its share when it is cancelled. */
export interface OrderFigures {
  readonly kind: 'order';
  readonly id: string;
  readonly status: OrderStatus;
  /** The UTC day it was placed on (YYYY-MM-DD). */
  readonly day: string;
  readonly placedAt: string;
  readonly totalCents: number;
  /** The names of its pizzas, one per pizza. */
  readonly pizzas: readonly string[];
}

/** The revenue of one day, from orders not cancelled; `id` is `day:YYYY-MM-DD`, so ids sort by day. */
export interface DayFigures {
  readonly kind: 'day';
  readonly id: string;
  readonly day: string;
  readonly orders: number;
  readonly revenueCents: number;
}

/** The running totals the dashboard shows, in the one document `totals`. */
export interface TotalFigures {
  readonly kind: 'totals';
  readonly id: 'totals';
  readonly ordersByStatus: Readonly<Record<OrderStatus, number>>;
  /** Orders not cancelled. */
  readonly revenueCents: number;
  /** Pizzas ordered by name, in orders not cancelled. */
  readonly pizzas: Readonly<Record<string, number>>;
  readonly readyOrders: number;
  readonly minutesToReady: number;
}

export type StatisticsDocument = OrderFigures | DayFigures | TotalFigures;

/**
 * The manager's numbers, kept up to date as orders change rather than computed per request: a dashboard read is
 * two document reads however many orders there are, and it runs the same on every store (memory, PGlite,
 * PostgreSQL). Each order's figures are kept too, so that a cancellation takes back exactly what the order added.
 */
export const Statistics = documents<StatisticsDocument>('statistics');

const noOrders = Object.fromEntries(orderStatuses.map((status) => [status, 0])) as Record<
  OrderStatus,
  number
>;
/** The totals before the first order. */
export const noFigures: TotalFigures = {
  kind: 'totals',
  id: 'totals',
  ordersByStatus: noOrders,
  revenueCents: 0,
  pizzas: {},
  readyOrders: 0,
  minutesToReady: 0,
};

type Writer = DocumentWriter<StatisticsDocument>;

async function totals(docs: Writer): Promise<TotalFigures> {
  return ((await docs.get('totals')) as TotalFigures | undefined) ?? noFigures;
}

/** Moves an order to a status in its figures and in the counts per status. */
async function move(docs: Writer, orderId: string, status: OrderStatus): Promise<OrderFigures | undefined> {
  const order = (await docs.get(orderId)) as OrderFigures | undefined;
  if (order === undefined || order.status === status) return undefined;
  await docs.put(orderId, { ...order, status });
  const t = await totals(docs);
  const ordersByStatus = { ...t.ordersByStatus };
  ordersByStatus[order.status] -= 1;
  ordersByStatus[status] += 1;
  await docs.put('totals', { ...t, ordersByStatus });
  return order;
}

/** Adds an order's share (sign 1) or takes it back (sign -1): revenue, its day, its pizzas. */
async function share(docs: Writer, order: OrderFigures, sign: 1 | -1): Promise<void> {
  const t = await totals(docs);
  const pizzas = { ...t.pizzas };
  for (const name of order.pizzas) {
    pizzas[name] = (pizzas[name] ?? 0) + sign;
    if (pizzas[name] === 0) delete pizzas[name];
  }
  await docs.put('totals', { ...t, revenueCents: t.revenueCents + sign * order.totalCents, pizzas });
  const id = `day:${order.day}`;
  const day = (await docs.get(id)) as DayFigures | undefined;
  const orders = (day?.orders ?? 0) + sign;
  if (orders === 0) await docs.delete(id);
  else {
    const revenueCents = (day?.revenueCents ?? 0) + sign * order.totalCents;
    await docs.put(id, { kind: 'day', id, day: order.day, orders, revenueCents });
  }
}

/** Async: the manager's dashboard may lag the kitchen by a moment. */
export const statistics = projection(Statistics, { mode: 'async' })
  .on(OrderPlaced, async (e, docs) => {
    if ((await docs.get(e.orderId)) !== undefined) return;
    const order: OrderFigures = {
      kind: 'order',
      id: e.orderId,
      status: 'confirmed',
      day: new Date(e.placedAt).toISOString().slice(0, 10),
      placedAt: e.placedAt,
      totalCents: e.totalCents,
      pizzas: e.items.map((item) => item.name),
    };
    await docs.put(e.orderId, order);
    const t = await totals(docs);
    await docs.put('totals', {
      ...t,
      ordersByStatus: { ...t.ordersByStatus, confirmed: t.ordersByStatus.confirmed + 1 },
    });
    await share(docs, order, 1);
  })
  .on(CookingStarted, (e, docs) => move(docs, e.orderId, 'cooking'))
  .on(OrderReady, async (e, docs) => {
    const order = await move(docs, e.orderId, 'ready');
    if (order === undefined) return;
    const t = await totals(docs);
    const minutes = (Date.parse(e.at) - Date.parse(order.placedAt)) / 60_000;
    await docs.put('totals', {
      ...t,
      readyOrders: t.readyOrders + 1,
      minutesToReady: t.minutesToReady + minutes,
    });
  })
  .on(DeliveryStarted, (e, docs) => move(docs, e.orderId, 'delivering'))
  .on(OrderDelivered, (e, docs) => move(docs, e.orderId, 'delivered'))
  .on(OrderCancelled, async (e, docs) => {
    const order = await move(docs, e.orderId, 'cancelled');
    if (order !== undefined) await share(docs, order, -1);
  });
