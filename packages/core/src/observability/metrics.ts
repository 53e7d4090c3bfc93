// OpenTelemetry metrics for the mediator: how long each request and each event delivery took, by message type and
// outcome, after the messaging conventions' `messaging.process.duration`. Only the API is a dependency: with no
// SDK registered, recording does nothing.
import { createNoopMeter, type Meter, metrics as otelMetrics } from '@opentelemetry/api';
import { type Behavior, BehaviorOrder, behavior } from '../mediation/behavior.ts';
import { type AnyMessageDefinition, definitionOf } from '../messages/message.ts';

export interface MetricsOptions {
  /** Defaults to the global meter provider's meter named `@myelin/core`. */
  readonly meter?: Meter;
}

/**
 * Records `messaging.process.duration` (seconds) for every request, with its type, kind and result status (or the
 * exception's name as `error.type`), and for every event delivery, with its handler. Without a meter provider
 * registered (an SDK's) by the time it is called, it adds no behaviors at all: its measurements would go nowhere.
 * @example createApplication().use(tracing(), metrics(), logging(logger))
 */
export function metrics(options: MetricsOptions = {}): Behavior[] {
  const meter = options.meter ?? otelMetrics.getMeter('@myelin/core');
  const duration = meter.createHistogram('messaging.process.duration', {
    unit: 's',
    description: 'How long Myelin took to process a request or to deliver an event to a handler',
    // The buckets the conventions recommend for durations in seconds (an SDK's default ones are for milliseconds).
    advice: {
      explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    },
  });
  // A meter that no SDK stood behind when it was made never gets one (OpenTelemetry's API hands no instrument made
  // earlier to a provider registered later): measuring would cost every request a clock read, its attributes and
  // a frame, for nothing. Register the SDK before building the application.
  if (duration === createNoopMeter().createHistogram('messaging.process.duration')) return [];
  const attributesOf = (definition: AnyMessageDefinition) => ({
    'messaging.system': 'myelin',
    'messaging.operation.type': 'process',
    'messaging.destination.name': definition.type,
    'myelin.message.kind': definition.kind,
  });
  const elapsed = (started: number) => (performance.now() - started) / 1000;
  return [
    behavior({ name: 'metrics', order: BehaviorOrder.tracing, scope: 'requests' }, async (message, next) => {
      const definition = definitionOf(message) as AnyMessageDefinition;
      const started = performance.now();
      try {
        const result = await next();
        duration.record(elapsed(started), {
          ...attributesOf(definition),
          'myelin.result.status': result.status,
        });
        return result;
      } catch (error) {
        duration.record(elapsed(started), { ...attributesOf(definition), 'error.type': errorType(error) });
        throw error;
      }
    }),
    behavior(
      { name: 'metrics', order: BehaviorOrder.tracing, scope: 'events' },
      async (event, next, execution) => {
        const definition = definitionOf(event) as AnyMessageDefinition;
        const handler =
          execution.delivery === undefined ? {} : { 'myelin.handler': execution.delivery.handler };
        const started = performance.now();
        try {
          await next();
          duration.record(elapsed(started), { ...attributesOf(definition), ...handler });
        } catch (error) {
          duration.record(elapsed(started), {
            ...attributesOf(definition),
            ...handler,
            'error.type': errorType(error),
          });
          throw error;
        }
      },
    ),
  ];
}

function errorType(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
