import { OrderDelivered, OrderReady } from '../domain/orderEvents.ts';

/**
 * What the pizzeria tells other services, on NATS JetStream (as CloudEvents): a ready order (a delivery app may
 * dispatch a driver) and a delivered one (a loyalty service may reward the customer). Both are domain events
 * declared `{ integration: true }`; the integration publisher takes them from the log after commit. Orders'
 * other events stay inside: they carry the customer's details, which other services have no need of.
 */
export const integrationEvents = [OrderReady, OrderDelivered] as const;
