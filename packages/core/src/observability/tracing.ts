// OpenTelemetry spans for the mediator: one per request and one per event delivery, named and attributed after
// the semantic conventions for messaging (https://opentelemetry.io/docs/specs/semconv/messaging/). Only the API
// is a dependency: with no SDK registered, a span is a no-op; which SDK and exporter is the application's choice.
import {
  type Attributes,
  context,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type Behavior, BehaviorOrder, behavior } from '../mediation/behavior.ts';
import type { ExecutionContext } from '../mediation/executionContext.ts';
import { type AnyMessageDefinition, definitionOf } from '../messages/message.ts';
import type { OperationResult } from '../results/operationResult.ts';
import { contextOf } from './traceContext.ts';

export interface TracingOptions {
  /** Defaults to the global tracer provider's tracer named `@myelin/core`. */
  readonly tracer?: Tracer;
}

/**
 * Traces every request (`process PlaceOrder`, with its outcome's status) and every event delivery (`process
 * order.placed.v1`, with its handler). A delivery continues the trace stored with its event when no span is active,
 * as when a relay delivers it from the log: the command that wrote an event and the handlers that took it, in any
 * process and at any later time, are one trace.
 * @example createApplication().use(tracing(), logging(logger))
 */
export function tracing(options: TracingOptions = {}): Behavior[] {
  const tracer = options.tracer ?? trace.getTracer('@myelin/core');
  // The global tracer records nothing until an SDK registers (asked per request: it may register after the
  // application is built). Until then a request's span would only cost it a span object, a context and a frame.
  // Deliveries keep theirs: entering the context of the event's stored trace is what carries it on.
  const recording = options.tracer === undefined ? tracingEnabled : () => true;
  return [
    behavior(
      { name: 'tracing', order: BehaviorOrder.tracing, scope: 'requests' },
      (message, next, execution) => {
        if (!recording()) return next();
        const definition = definitionOf(message) as AnyMessageDefinition;
        return tracer.startActiveSpan(
          `process ${definition.type}`,
          { kind: SpanKind.INTERNAL, attributes: attributesOf(definition, execution) },
          (span) =>
            withinSpan(span, async () => {
              const result: OperationResult<unknown> = await next();
              span.setAttribute('myelin.result.status', result.status);
              if (!result.ok && result.status >= 500) {
                span.setStatus({ code: SpanStatusCode.ERROR, message: result.problem.title });
              }
              return result;
            }),
        );
      },
    ),
    behavior({ name: 'tracing', order: BehaviorOrder.tracing, scope: 'events' }, (event, next, execution) => {
      const definition = definitionOf(event) as AnyMessageDefinition;
      const active = context.active();
      const parent =
        trace.getSpan(active) === undefined && execution.event !== undefined
          ? contextOf(execution.event, active)
          : active;
      const attributes = {
        ...attributesOf(definition, execution),
        ...(execution.delivery === undefined ? {} : { 'myelin.handler': execution.delivery.handler }),
      };
      return tracer.startActiveSpan(
        `process ${definition.type}`,
        { kind: SpanKind.CONSUMER, attributes },
        parent,
        (span) => withinSpan(span, next),
      );
    }),
  ];
}

/**
 * Whether an OpenTelemetry SDK has registered its tracer provider. Until one is, the API's global provider
 * delegates to a no-op, whose spans record nothing: work that only makes spans (and their attributes and contexts)
 * can skip them, which costs a busy consumer measurable time for nothing. A second copy of the API (whose classes
 * differ) is taken as registered, so that spans are never dropped for it. Cheap enough to ask per message.
 */
export function tracingEnabled(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== noTracerProvider;
}
const noTracerProvider = new ProxyTracerProvider().getDelegate();

/**
 * Runs `work` for a span: an exception is recorded and marks the span failed; the span ends either way. For the
 * spans adapters make (a commit, a projection batch).
 */
export async function withinSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}

function attributesOf(definition: AnyMessageDefinition, execution: ExecutionContext): Attributes {
  return {
    'messaging.system': 'myelin',
    'messaging.operation.type': 'process',
    'messaging.destination.name': definition.type,
    'messaging.message.id': execution.messageId,
    'messaging.message.conversation_id': execution.correlationId,
    'myelin.message.kind': definition.kind,
  };
}
