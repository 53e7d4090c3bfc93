import type { EventMetadata } from '../mediation/executionContext.ts';
import type { NewEvent } from '../persistence/eventStore.ts';

/**
 * An event ready to append to an event store (or publish on a bus) in a test: a fresh id, version 1, occurred now,
 * correlated to itself, unless `metadata` says otherwise.
 * @example await store.append('order-1', [newEvent('order.placed.v1', { total: 2598 })], 'no_stream');
 */
export function newEvent<TData>(
  type: string,
  data: TData,
  metadata: Partial<EventMetadata> = {},
): NewEvent & { readonly data: TData } {
  const eventId = metadata.eventId ?? crypto.randomUUID();
  return {
    data,
    metadata: {
      eventId,
      type,
      version: 1,
      occurredAt: new Date(),
      correlationId: eventId,
      causationId: undefined,
      principal: undefined,
      ...metadata,
    },
  };
}
