// Test support (not a spec): an OpenTelemetry collector as small as a test needs, receiving OTLP/HTTP JSON on
// /v1/traces, as a process told OTEL_EXPORTER_OTLP_ENDPOINT sends its spans.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly links?: readonly { readonly traceId: string }[];
  /** The `service.name` of the process that sent it. */
  readonly service: string | undefined;
  /** The string attributes of that process's resource. */
  readonly resource: Readonly<Record<string, string>>;
}

interface OtlpExport {
  readonly resourceSpans: readonly {
    readonly resource: { readonly attributes: readonly { key: string; value: { stringValue?: string } }[] };
    readonly scopeSpans: readonly { readonly spans: readonly Omit<OtlpSpan, 'service' | 'resource'>[] }[];
  }[];
}

export interface Collector extends AsyncDisposable {
  /** What to set OTEL_EXPORTER_OTLP_ENDPOINT to. */
  readonly endpoint: string;
  /** Every span received so far. */
  spans(): OtlpSpan[];
}

export async function startCollector(): Promise<Collector> {
  const received: OtlpSpan[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.url === '/v1/traces') {
        for (const resource of (JSON.parse(body) as OtlpExport).resourceSpans) {
          const attributes = Object.fromEntries(
            resource.resource.attributes.flatMap((a) =>
              a.value.stringValue === undefined ? [] : [[a.key, a.value.stringValue]],
            ),
          );
          const service = attributes['service.name'];
          for (const scope of resource.scopeSpans)
            for (const span of scope.spans) received.push({ ...span, service, resource: attributes });
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    async [Symbol.asyncDispose]() {
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
