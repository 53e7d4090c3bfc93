// The pizzeria as `npm start` runs it, told by OTEL_EXPORTER_OTLP_ENDPOINT to send its traces to a collector (a
// small HTTP server of this test's, as an OpenTelemetry collector receives OTLP/HTTP): one order is one trace,
// from the HTTP request through the command to its commit, and the projection batches link to it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, startCollector } from './testing/otlpCollector.ts';
import { groupAlive } from './testing/pizzeriaProcesses.ts';

const exampleDir = new URL('..', import.meta.url).pathname;

describe('tracing to an OpenTelemetry collector', () => {
  let collector: Collector;
  let dataDir = '';
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pizzeria-otel-'));
    collector = await startCollector();
  });
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await collector[Symbol.asyncDispose]();
  });

  it('sends one trace per order: the request, the command, its commit; projection batches link to it', {
    timeout: 90_000,
  }, async () => {
    const { DATABASE_URL: _url, NATS_URL: _nats, ...inherited } = process.env;
    const child = spawn('npx', ['node', '--conditions=@myelin/source', 'src/main.ts'], {
      cwd: exampleDir,
      env: {
        ...inherited,
        // Loopback whatever the shell exports (tcsh sets HOST to the machine's name): the development logins are on.
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_SERVICE_NAME: 'pizzeria-under-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=spec,service.name=overridden',
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const check = () => {
          const match = output.match(/open at (http:\/\/\S+)/);
          if (match !== null) resolve(match[1] as string);
        };
        child.stdout?.on('data', check);
        child.once('exit', (code) => reject(new Error(`the pizzeria exited (${code}):\n${output}`)));
      });
      const placed = await fetch(`${url}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          customerName: 'Birdo',
          customerPhone: '555 0170',
          pizzas: [{ name: 'margherita', size: 'small' }],
        }),
      });
      expect(placed.status).toBe(201);
      // Read back after the async read models caught up, so that their batches have run.
      const position = placed.headers.get('myelin-position') ?? '';
      const login = await fetch(`${url}/api/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'chef', password: 'chef' }),
      });
      const { accessToken } = (await login.json()) as { accessToken: string };
      const queue = await fetch(`${url}/api/kitchen/queue`, {
        headers: { authorization: `Bearer ${accessToken}`, 'myelin-position': position },
      });
      expect(queue.status).toBe(200);
    } finally {
      // A graceful stop sends the spans still batched. npx dies of the signal at once; the node it started
      // finishes first, so the wait is for the whole process group to be gone.
      const pid = child.pid as number;
      process.kill(-pid, 'SIGTERM');
      await exited;
      while (groupAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const spans = collector.spans();
    // OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES' service.name, and the rest of the latter kept.
    expect(new Set(spans.map((span) => span.service))).toEqual(new Set(['pizzeria-under-test']));
    expect(new Set(spans.map((span) => span.resource['deployment.environment.name']))).toEqual(
      new Set(['spec']),
    );
    const command = spans.find((span) => span.name === 'process PlaceOrder');
    expect(command, output).toBeDefined();
    const trace = spans.filter((span) => span.traceId === command?.traceId);
    const names = trace.map((span) => span.name);
    expect(names).toEqual(expect.arrayContaining(['POST /api/orders', 'process PlaceOrder', 'commit']));
    const byId = new Map(trace.map((span) => [span.spanId, span]));
    const commit = trace.find((span) => span.name === 'commit');
    expect(byId.get(commit?.parentSpanId ?? '')?.name).toBe('process PlaceOrder');
    // The command's ancestors lead to the HTTP request's span, the root of the trace.
    let root = command;
    while (root?.parentSpanId !== undefined && root.parentSpanId !== '' && byId.has(root.parentSpanId)) {
      root = byId.get(root.parentSpanId);
    }
    expect(root?.name).toBe('POST /api/orders');
    // Fastify's line for the order's request names its trace and span: the logs and the trace join up.
    const lines = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map(
        (line) =>
          JSON.parse(line) as {
            msg?: string;
            res?: { statusCode?: number };
            trace_id?: string;
            span_id?: string;
          },
      );
    const completed = lines.find((line) => line.msg === 'request completed' && line.res?.statusCode === 201);
    expect(completed).toMatchObject({ trace_id: command?.traceId, span_id: root?.spanId });
    // The kitchen queue's batch, a trace of its own, links to the order's.
    const batches = spans.filter((span) => span.name === 'project kitchen-queue');
    expect(batches.some((batch) => batch.links?.some((link) => link.traceId === command?.traceId))).toBe(
      true,
    );
  });
});
