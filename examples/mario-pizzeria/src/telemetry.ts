// OpenTelemetry for the process, configured by the standard environment variables: traces go to an OTLP collector
// when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) names one; `OTEL_SERVICE_NAME`
// names the service (`mario-pizzeria` by default) and `OTEL_RESOURCE_ATTRIBUTES` adds to what describes it;
// `OTEL_TRACES_SAMPLER` (and `_ARG`) choose the sampler; `OTEL_SDK_DISABLED=true` turns it off. Metrics are served
// for Prometheus instead (api/metrics.ts). The packages depend on OpenTelemetry's API only: this file chooses the SDK.
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** Starts tracing when the environment asks for it; answers how to flush and stop it (or undefined). */
export function startTracing(env: NodeJS.ProcessEnv = process.env): (() => Promise<void>) | undefined {
  if (env.OTEL_SDK_DISABLED === 'true') return undefined;
  // Unset or empty: no collector named, no tracing.
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  const provider = new NodeTracerProvider({
    // The environment's (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) over the default name.
    resource: resourceFromAttributes({ 'service.name': 'mario-pizzeria' }).merge(
      detectResources({ detectors: [envDetector] }),
    ),
    // The exporter reads its endpoint, headers and timeout from the OTEL_EXPORTER_OTLP_* variables.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // Also installs the context manager (AsyncLocalStorage) and the W3C propagator.
  provider.register();
  return () => provider.shutdown();
}
