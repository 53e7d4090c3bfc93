// A child process serving one side (`myelin`, `raw`, Myelin instrumented: `otelApi`, `otelSdk`, or the raw twin
// instrumented by hand with the same SDK: `rawOtelSdk`) on a free
// port of 127.0.0.1. It tells its parent the address over IPC once it listens, answers 'cpu' with the CPU time it
// has used so far, and closes (the server, its pool) when the parent sends 'stop' or goes away.
import type { FastifyInstance } from 'fastify';

export type ServerName = 'myelin' | 'raw' | 'otelApi' | 'otelSdk' | 'rawOtelSdk';

/** What the child sends its parent. */
export type ServerMessage =
  | { readonly listening: string }
  | { readonly failed: string }
  /** User and system CPU time of the process so far, in microseconds. */
  | { readonly cpuMicros: number };

const name = process.argv[2];

/**
 * The OpenTelemetry SDK as an application registers it, sampling every trace, with an exporter that drops what it
 * is given, and metrics aggregated for a Prometheus endpoint: the cost of recording spans and metrics is
 * measured, not that of sending them anywhere.
 */
async function registerSdk(): Promise<void> {
  const { context, metrics, propagation, trace } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator, ExportResultCode } = await import('@opentelemetry/core');
  const { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor } = await import(
    '@opentelemetry/sdk-trace-base'
  );
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const dropping = {
    export: (_spans: unknown, done: (result: { code: number }) => void) =>
      done({ code: ExportResultCode.SUCCESS }),
    shutdown: async () => {},
  };
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new BatchSpanProcessor(dropping)],
    }),
  );
  // Aggregated for a Prometheus endpoint, as the pizzeria serves them, which nothing scrapes during the run. (A
  // MeterProvider without a reader drops every measurement at once: the case then measured no metrics at all.)
  metrics.setGlobalMeterProvider(
    new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] }),
  );
}

async function create(): Promise<FastifyInstance> {
  const { createMyelinServer } = await import('./myelin.ts');
  const { myelinSchema, rawSchema, schemaOf } = await import('./workload.ts');
  if (name === 'myelin') return createMyelinServer();
  if (name === 'raw') return (await import('./raw.ts')).createRawServer();
  if (name === 'otelApi')
    return createMyelinServer({}, { schema: schemaOf('otelApi', myelinSchema), telemetry: true });
  if (name === 'otelSdk') {
    await registerSdk();
    return createMyelinServer({}, { schema: schemaOf('otelSdk', myelinSchema), telemetry: true });
  }
  if (name === 'rawOtelSdk') {
    await registerSdk();
    const { createRawServer } = await import('./raw.ts');
    return createRawServer({ schema: schemaOf('rawOtelSdk', rawSchema), telemetry: true });
  }
  throw new Error(`http server: unknown side '${name}' (myelin, raw, otelApi, otelSdk or rawOtelSdk)`);
}

const send = (message: ServerMessage) => process.send?.(message);

try {
  const server = await create();
  const address = await server.listen({ port: 0, host: '127.0.0.1' });
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`http server (${name}): closing failed`, error);
        process.exit(1);
      },
    );
  };
  process.on('message', (message) => {
    if (message === 'stop') close();
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ cpuMicros: user + system });
    }
  });
  process.on('disconnect', close);
  send({ listening: address });
} catch (error) {
  send({ failed: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
}
