import type { BusMessage } from '@myelin/core';

/**
 * A CloudEvents 1.0 event in structured JSON mode. Myelin's metadata that CloudEvents has no attribute for travels
 * in extension attributes (lower-case letters and digits only, as the specification requires).
 */
export interface CloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: unknown;
  /** The event's schema version. */
  readonly dataversion: number;
  readonly correlationid: string;
  readonly causationid?: string;
  readonly principal?: string;
  /** The distributed-tracing extension: the trace of the work that wrote the event (W3C Trace Context). */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

export const cloudEventContentType = 'application/cloudevents+json';

/** The CloudEvent of a message; the principal's subject only when asked for (it is personal data). */
export function toCloudEvent(
  message: BusMessage,
  source: string,
  options: { readonly includePrincipal?: boolean } = {},
): CloudEvent {
  const { metadata } = message;
  return {
    specversion: '1.0',
    id: metadata.eventId,
    source,
    type: metadata.type,
    time: metadata.occurredAt.toISOString(),
    datacontenttype: 'application/json',
    data: message.data,
    dataversion: metadata.version,
    correlationid: metadata.correlationId,
    ...(metadata.causationId === undefined ? {} : { causationid: metadata.causationId }),
    ...(metadata.principal === undefined || options.includePrincipal !== true
      ? {}
      : { principal: metadata.principal }),
    ...(metadata.traceparent === undefined ? {} : { traceparent: metadata.traceparent }),
    ...(metadata.tracestate === undefined ? {} : { tracestate: metadata.tracestate }),
  };
}

/** Reads a structured CloudEvent back; throws a TypeError naming what is missing when it is not one. */
export function fromCloudEvent(value: unknown): BusMessage {
  const event = value as Partial<CloudEvent> | null;
  if (typeof event !== 'object' || event === null) throw new TypeError('not a JSON object');
  for (const field of ['id', 'type', 'time', 'specversion'] as const) {
    if (typeof event[field] !== 'string') throw new TypeError(`the CloudEvent has no '${field}'`);
  }
  const time = new Date(event.time as string);
  if (Number.isNaN(time.getTime()))
    throw new TypeError(`the CloudEvent's time '${event.time}' is not a date`);
  return {
    data: event.data,
    metadata: {
      eventId: event.id as string,
      type: event.type as string,
      version: typeof event.dataversion === 'number' ? event.dataversion : 1,
      occurredAt: time,
      correlationId: event.correlationid ?? (event.id as string),
      causationId: event.causationid,
      principal: event.principal,
      // A malformed trace context is not a reason to refuse an event: the handler then starts a trace of its own.
      ...(typeof event.traceparent === 'string' ? { traceparent: event.traceparent } : {}),
      ...(typeof event.tracestate === 'string' ? { tracestate: event.tracestate } : {}),
    },
  };
}
