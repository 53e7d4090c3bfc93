import {
  type DocumentModel,
  type ErasureModel,
  erased,
  type Projection,
  type ProjectionOptions,
  projection,
  type StoredEvent,
} from '@myelin/core';
import {
  CookingStarted,
  DeliveryStarted,
  DriverAssigned,
  OrderCancelled,
  OrderDelivered,
  type OrderEvent,
  OrderPlaced,
  OrderReady,
  orderEvents,
} from '../domain/orderEvents.ts';
import type { OrderSummary } from './views.ts';

/**
 * The next summary of an order after one of its events; undefined when the read model does not have the order
 * (it dropped it, or never had it). Pure, and shared by every read model of orders, so they all agree.
 * The version is the event's place in the order's stream: the number of events the order has.
 */
export function evolveSummary(
  summary: OrderSummary | undefined,
  event: OrderEvent,
  stored: StoredEvent,
): OrderSummary | undefined {
  const version = stored.streamVersion;
  if (event instanceof OrderPlaced) {
    return {
      id: event.orderId,
      status: 'confirmed',
      customerId: event.customerId,
      customerName: event.customerName,
      customerPhone: event.customerPhone,
      customerAddress: event.customerAddress,
      customerEmail: event.customerEmail,
      items: event.items,
      totalCents: event.totalCents,
      notes: event.notes,
      placedAt: event.placedAt,
      placedBy: event.placedBy,
      accessKeyHash: event.accessKeyHash,
      version,
    };
  }
  if (summary === undefined) return undefined;
  if (event instanceof CookingStarted)
    return { ...summary, status: 'cooking', chef: event.chef, cookingStartedAt: event.at, version };
  if (event instanceof OrderReady) return { ...summary, status: 'ready', readyAt: event.at, version };
  if (event instanceof DriverAssigned) return { ...summary, driverId: event.driverId, version };
  if (event instanceof DeliveryStarted) {
    return {
      ...summary,
      status: 'delivering',
      driverId: event.driverId,
      deliveryStartedAt: event.at,
      version,
    };
  }
  if (event instanceof OrderDelivered)
    return { ...summary, status: 'delivered', deliveredAt: event.at, version };
  if (event instanceof OrderCancelled)
    return { ...summary, status: 'cancelled', cancelledAt: event.at, cancelReason: event.reason, version };
  return summary;
}

/**
 * A summary whose customer was erased: their details shown as erased, and nothing left that lets them read the
 * order (staff still do). What a rebuild after the erasure writes too, since the events then read so.
 */
export function erasedSummary(summary: OrderSummary): OrderSummary {
  const { placedBy: _placedBy, accessKeyHash: _accessKeyHash, ...rest } = summary;
  const given = (text: string | undefined) => (text === undefined ? undefined : erased);
  return {
    ...rest,
    customerName: erased,
    customerPhone: erased,
    customerAddress: given(summary.customerAddress),
    customerEmail: given(summary.customerEmail),
    notes: given(summary.notes),
  };
}

/** Erases a customer from the summaries of their orders, a page at a time however many they placed. */
async function eraseCustomer(
  customerId: string,
  docs: ErasureModel<DocumentModel<OrderSummary>>,
): Promise<void> {
  for (let page = 1; ; page++) {
    const found = await docs.find({ where: { customerId }, sort: [{ field: 'id' }], page, pageSize: 100 });
    for (const summary of found.items) await docs.put(summary.id, erasedSummary(summary));
    if (page * found.pageSize >= found.total) return;
  }
}

/**
 * A projection keeping order summaries in a document read model, by order id, for as long as `keep` says: every
 * order for the summaries, those still in the kitchen for its queue, and so on. Erasing a customer erases their
 * details from the summaries it keeps, in the erasure's transaction.
 */
export function orderSummaryProjection(
  model: DocumentModel<OrderSummary>,
  options: ProjectionOptions,
  keep: (summary: OrderSummary) => boolean,
): Projection<DocumentModel<OrderSummary>> {
  let p = projection(model, options);
  for (const definition of orderEvents) {
    p = p.on(definition, async (event, docs, stored) => {
      const next = evolveSummary(await docs.get(event.orderId), event, stored);
      if (next === undefined) return;
      await (keep(next) ? docs.put(next.id, next) : docs.delete(next.id));
    });
  }
  return p.erase(eraseCustomer);
}
