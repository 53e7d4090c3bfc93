// One request, one trace: the HTTP span (@fastify/otel), and inside it the application's own spans.
import { createApplication, tracing } from '@myelin/core';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, testModule } from '../testing/testApi.ts';
import { createServer } from './server.ts';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(() => {
  trace.disable();
  context.disable();
});

/** The span and its ancestors, up to the root, by name. */
function ancestry(span: ReadableSpan | undefined, all: readonly ReadableSpan[]): string[] {
  const names: string[] = [];
  for (let at = span; at !== undefined; ) {
    names.push(at.name);
    const parent = at.parentSpanContext?.spanId;
    at = all.find((candidate) => candidate.spanContext().spanId === parent);
  }
  return names;
}

describe('telemetry', () => {
  it('puts the application’s span for a route inside the request’s HTTP span, one trace', async () => {
    const app = await createApplication().use(tracing()).include(testModule).build();
    const server = await createServer({ app, routes: api, fastify: { logger: false } });
    try {
      const response = await server.inject({ method: 'GET', url: '/notes' });
      expect(response.statusCode).toBe(200);
    } finally {
      await server.close();
    }
    const spans = exporter.getFinishedSpans();
    const request = spans.find((span) => span.name === 'process test.listNotes');
    const chain = ancestry(request, spans);
    // The message's span is the request's child: no route handler's span between them, which would only repeat it.
    // Named after the HTTP conventions: the method and the route.
    expect(chain).toEqual(['process test.listNotes', 'GET /notes']);
    const root = spans.find((span) => span.name === 'GET /notes');
    expect(root?.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/notes' });
    expect(new Set(spans.map((span) => span.spanContext().traceId)).size).toBe(1);
    // The request and the application's spans: no span per Fastify lifecycle hook.
    expect(
      spans.map((span) => span.name).filter((name) => /^(onRequest|preHandler|onSend|onResponse)/.test(name)),
    ).toEqual([]);
  });

  it('records the path of a request without its query, where credentials travel', async () => {
    exporter.reset();
    const app = await createApplication().include(testModule).build();
    const server = await createServer({ app, routes: api, fastify: { logger: false } });
    try {
      await server.inject({ method: 'GET', url: '/notes?key=a-secret-key&access_token=a.secret.token' });
    } finally {
      await server.close();
    }
    const request = exporter.getFinishedSpans().find((span) => span.name === 'GET /notes');
    expect(request?.attributes['url.path']).toBe('/notes');
    expect(JSON.stringify(exporter.getFinishedSpans().map((span) => span.attributes))).not.toMatch(/secret/);
  });

  it('is left out while no SDK is registered: its no-op spans would still cost every request', async () => {
    trace.disable();
    try {
      const app = await createApplication().include(testModule).build();
      const server = await createServer({ app, routes: api, telemetry: true, fastify: { logger: false } });
      try {
        expect((await server.inject({ method: 'GET', url: '/notes' })).statusCode).toBe(200);
        expect(server.hasRequestDecorator('opentelemetry')).toBe(false);
      } finally {
        await server.close();
      }
    } finally {
      trace.setGlobalTracerProvider(provider);
    }
    // With the SDK registered again, a new server is instrumented.
    const app = await createApplication().include(testModule).build();
    const server = await createServer({ app, routes: api, telemetry: true, fastify: { logger: false } });
    try {
      expect(server.hasRequestDecorator('opentelemetry')).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('is left out when told so', async () => {
    exporter.reset();
    const app = await createApplication().include(testModule).build();
    const server = await createServer({ app, routes: api, telemetry: false, fastify: { logger: false } });
    try {
      await server.inject({ method: 'GET', url: '/notes' });
    } finally {
      await server.close();
    }
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
