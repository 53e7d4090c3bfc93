// The pizzeria's metrics for Prometheus: OpenTelemetry's SDK with its Prometheus exporter, read at /metrics by the
// API server (not on a port of its own). The packages record through OpenTelemetry's API (`metrics()` in core:
// `messaging.process.duration` by message type and outcome), so this is the only place that names an SDK.

import { createHash, timingSafeEqual } from 'node:crypto';
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

/** Serves the exporter's text at `GET /metrics`, to a scraper sending `Authorization: Bearer <token>` when given one. */
export function registerMetrics(server: FastifyInstance, exporter: PrometheusExporter, token?: string): void {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const wanted = token === undefined ? undefined : digest(`Bearer ${token}`);
  server.get('/metrics', { config: { otel: false } }, (request, reply) => {
    // Compared as digests, in constant time: neither the length nor a prefix of the token shows in the timing.
    const sent = request.headers.authorization;
    if (wanted !== undefined && (sent === undefined || !timingSafeEqual(digest(sent), wanted))) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .header('cache-control', 'no-store')
        .type('application/problem+json')
        .send({
          type: 'about:blank',
          title: 'Unauthorized',
          status: 401,
          detail: 'The metrics need their bearer token',
        });
    }
    reply.hijack();
    exporter.getMetricsRequestHandler(request.raw, reply.raw);
    return reply;
  });
}
