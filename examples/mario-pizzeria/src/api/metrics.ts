// The pizzeria's metrics for Prometheus: OpenTelemetry's SDK with its Prometheus exporter, read at /metrics by the
// API server (not on a port of its own). The packages record through OpenTelemetry's API (`metrics()` in core:
// `messaging.process.duration` by message type and outcome), so this is the only place that names an SDK.
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { FastifyInstance } from 'fastify';

/** Starts collecting: the process's meter provider becomes one that Prometheus reads. */
export function prometheusMetrics(): PrometheusExporter {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));
  return exporter;
}

/** Serves the exporter's text at `GET /metrics`. */
export function registerMetrics(server: FastifyInstance, exporter: PrometheusExporter): void {
  server.get('/metrics', { config: { otel: false } }, (request, reply) => {
    reply.hijack();
    exporter.getMetricsRequestHandler(request.raw, reply.raw);
  });
}
