// W3C Trace Context (https://www.w3.org/TR/trace-context/) between OpenTelemetry's API and the text an event
// carries: what makes a trace continue across the log, the relay and the bus.
import {
  type Context,
  context,
  createTraceState,
  type SpanContext,
  TraceFlags,
  trace,
} from '@opentelemetry/api';

/** An event's trace context, as stored with it. */
export interface TraceContext {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

const none = Object.freeze({});
const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The active span's trace context, or none (no span, or no OpenTelemetry SDK: then this costs a lookup). */
export function activeTraceContext(): { readonly traceparent?: string; readonly tracestate?: string } {
  const span = trace.getSpan(context.active());
  if (span === undefined) return none;
  const spanContext = span.spanContext();
  if (!trace.isSpanContextValid(spanContext)) return none;
  const flags = (spanContext.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
  const traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
  const tracestate = spanContext.traceState?.serialize();
  return tracestate === undefined || tracestate === '' ? { traceparent } : { traceparent, tracestate };
}

/** The context a stored trace context describes, as a remote parent; the root context when there is none. */
export function contextOf(traceContext: TraceContext, base: Context = context.active()): Context {
  const match = traceparentPattern.exec(traceContext.traceparent ?? '');
  if (match === null) return base;
  const spanContext: SpanContext = {
    traceId: match[1] as string,
    spanId: match[2] as string,
    traceFlags: Number.parseInt(match[3] as string, 16),
    isRemote: true,
    ...(traceContext.tracestate === undefined
      ? {}
      : { traceState: createTraceState(traceContext.tracestate) }),
  };
  return trace.isSpanContextValid(spanContext) ? trace.setSpanContext(base, spanContext) : base;
}

/** The active span's ids as log lines carry them (`trace_id`, `span_id`, as OpenTelemetry's log data model names them). */
export function activeTraceIds(): { readonly trace_id?: string; readonly span_id?: string } {
  const spanContext = trace.getSpanContext(context.active());
  if (spanContext === undefined || !trace.isSpanContextValid(spanContext)) return none;
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
