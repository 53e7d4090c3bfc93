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

/** Reads a structured CloudEvent back; throws a TypeError naming what is missing or malformed when it is not one. */
export function fromCloudEvent(value: unknown): BusMessage {
  const event = value as Partial<CloudEvent> | null;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new TypeError('not a JSON object');
  }
  for (const field of ['id', 'type', 'time', 'specversion'] as const) {
    if (typeof event[field] !== 'string') throw new TypeError(`the CloudEvent has no '${field}'`);
  }
  const time = new Date(event.time as string);
  if (Number.isNaN(time.getTime()))
    throw new TypeError(`the CloudEvent's time ${attributeText(event.time)} is not a date`);
  // Ids and the principal become the handler's metadata, then its events' and its logs': held to what Myelin
  // writes, so that another service's message cannot put an object, a number or a control character there.
  const id = idAttribute(event, 'id') as string;
  const type = idAttribute(event, 'type') as string;
  const dataversion = event.dataversion;
  if (dataversion !== undefined && !(Number.isSafeInteger(dataversion) && dataversion > 0)) {
    throw new TypeError(
      `the CloudEvent's dataversion must be a positive integer, not ${attributeText(dataversion)}`,
    );
  }
  return {
    data: event.data,
    metadata: {
      eventId: id,
      type,
      version: dataversion ?? 1,
      occurredAt: time,
      correlationId: idAttribute(event, 'correlationid') ?? id,
      causationId: idAttribute(event, 'causationid'),
      principal: idAttribute(event, 'principal'),
      ...traceContextOf(event),
    },
  };
}

/** A W3C traceparent: version, trace id, parent id, flags. */
const traceparentPattern = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** The longest tracestate W3C Trace Context asks to propagate (and OpenTelemetry parses). */
const longestTracestate = 512;

/**
 * The event's trace context when it is well-formed, else none: a malformed one is not a reason to refuse an event
 * (the handler then starts a trace of its own), nor is it passed on as it came. A tracestate goes with its
 * traceparent only.
 */
function traceContextOf(event: Partial<CloudEvent>): { traceparent?: string; tracestate?: string } {
  const { traceparent, tracestate } = event as { traceparent?: unknown; tracestate?: unknown };
  if (typeof traceparent !== 'string' || !traceparentPattern.test(traceparent)) return {};
  return typeof tracestate === 'string' &&
    tracestate.length <= longestTracestate &&
    !/\p{Cc}/u.test(tracestate) &&
    tracestate.isWellFormed()
    ? { traceparent, tracestate }
    : { traceparent };
}

/** The longest id, type or principal a CloudEvent may carry. */
const longestAttribute = 200;

/** An attribute that is an id, as a string, undefined when absent, or a TypeError naming it. */
function idAttribute(
  event: Partial<CloudEvent>,
  name: 'id' | 'type' | 'correlationid' | 'causationid' | 'principal',
) {
  const value: unknown = event[name];
  if (value === undefined) return undefined;
  if (
    typeof value !== 'string' ||
    value === '' ||
    value.length > longestAttribute ||
    /\p{Cc}/u.test(value) ||
    !value.isWellFormed()
  ) {
    throw new TypeError(
      `the CloudEvent's ${name} must be a well-formed string of 1 to ${longestAttribute} characters without control characters, not ${attributeText(value)}`,
    );
  }
  return value;
}

/** A value named in an error, short: it came from outside. */
function attributeText(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
