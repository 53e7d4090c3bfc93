// The pizzeria as a deployment runs it: two API processes and a projector, as separate operating-system
// processes started the way `npm start` starts one, on one PostgreSQL (a schema of this run's own) and NATS
// JetStream (streams of this run's own). An order placed through one API is read through the other at once,
// reaches the kitchen queue through the projector, and its readiness reaches NATS as an integration event, in the
// trace of the command that made the order ready, from the API process through the projector to this one.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsMessageBus } from '@myelin/nats';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderDto } from './shared/dtos.ts';
import { type Collector, startCollector } from './testing/otlpCollector.ts';
import {
  databaseUrl,
  json,
  natsUrl,
  PizzeriaRun,
  type Role,
  requireServices,
  stop,
} from './testing/pizzeriaProcesses.ts';

const pizzeria = new PizzeriaRun();
const { natsPrefix, stream, production, processes } = pizzeria;
const start = (role: Role, env?: Record<string, string>) => pizzeria.start(role, env);
// After every case: later ones start production processes on the run's schema too.
afterAll(() => pizzeria.cleanUp(), 30_000);

describe('two API processes and a projector on PostgreSQL and NATS', () => {
  let collector: Collector;
  // This process consumes the integration event as another service would, tracing with an SDK of its own.
  const exporter = new InMemorySpanExporter();
  beforeAll(async () => {
    await requireServices();
    collector = await startCollector();
    production.OTEL_EXPORTER_OTLP_ENDPOINT = collector.endpoint;
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
  }, 15_000);

  afterAll(async () => {
    await Promise.all(processes.map((started) => stop(started)));
    await collector[Symbol.asyncDispose]();
    trace.disable();
    context.disable();
  }, 30_000);

  it('reads through API 2 an order placed through API 1, sees it in the kitchen queue, and tells NATS it is ready', {
    timeout: 90_000,
  }, async () => {
    const projector = start('projector');
    const api1 = start('api');
    const api2 = start('api');
    await projector.line(/projector running/);
    const [url1, url2] = await Promise.all(
      [api1, api2].map(async (api) => (await api.line(/open at (http:\/\/\S+)/))[1] ?? ''),
    );
    expect(url1).not.toBe(url2);

    // Listen for the integration event first: JetStream keeps it for a consumer created later anyway.
    const bus = await NatsMessageBus.connect({
      service: `test-${pizzeria.id}`,
      servers: natsUrl,
      stream,
      subjectPrefix: `${natsPrefix}.events`,
      deadLetterPrefix: `${natsPrefix}.dead`,
    });
    const readyIds: string[] = [];
    bus.subscribe('order.ready.v1', (message) => {
      readyIds.push((message.data as { orderId: string }).orderId);
    });

    try {
      const placed = await fetch(`${url1}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          customerName: 'Daisy',
          customerPhone: '555 0400',
          pizzas: [{ name: 'margherita', size: 'medium' }],
        }),
      });
      expect(placed.status).toBe(201);
      const position = placed.headers.get('myelin-position') ?? '';
      const { accessKey: _key, ...order } = await json<OrderDto>(placed);

      // Another process, at once: the order summaries are written in the command's own transaction. The one who
      // placed it reads it by following the 201's Location, which carries its key.
      const location = placed.headers.get('location') ?? '';
      expect(await json<OrderDto>(await fetch(`${url2}${location}`))).toEqual(order);

      // The kitchen queue is the projector's: API 2 waits for it to pass the write's position, then reads.
      // Production has no development logins: staff come with their issuer's tokens.
      const login = await fetch(`${url2}/api/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'manager', password: 'manager' }),
      });
      expect(login.status).toBe(404);
      const chef = { authorization: `Bearer ${await pizzeria.tokenFor('chef')}` };
      let queue: { items: OrderDto[] } = { items: [] };
      const deadline = Date.now() + 20_000;
      while (!queue.items.some((o) => o.id === order.id) && Date.now() < deadline) {
        queue = await json(
          await fetch(`${url2}/api/kitchen/queue`, { headers: { ...chef, 'myelin-position': position } }),
        );
      }
      expect(queue.items.find((o) => o.id === order.id)).toMatchObject({ status: 'confirmed' });

      // Cooked and ready through API 2; the projector publishes order.ready.v1 to NATS.
      for (const step of ['cooking', 'ready']) {
        const response = await fetch(`${url2}/api/orders/${order.id}/${step}`, {
          method: 'POST',
          headers: chef,
        });
        expect(response.status).toBe(200);
      }
      expect(await json<OrderDto>(await fetch(`${url1}${location}`))).toMatchObject({
        status: 'ready',
      });
      const published = Date.now() + 20_000;
      while (!readyIds.includes(order.id) && Date.now() < published) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(readyIds).toContain(order.id);
    } finally {
      await bus.close();
    }

    // One trace across three processes: the API's request, command and commit, the projector's send to NATS (and
    // its projection batch, linked), this one's delivery.
    await Promise.all(processes.map((started) => stop(started))); // a graceful stop sends the spans still batched
    const delivery = exporter
      .getFinishedSpans()
      .find((span) => span.name === `process ${natsPrefix}.events.order.ready.v1`);
    const theirs = collector.spans().filter((span) => span.traceId === delivery?.spanContext().traceId);
    const command = theirs.find((span) => span.name === 'process MarkReady');
    const send = theirs.find((span) => span.name.startsWith('send '));
    expect(command?.service).toBe('mario-pizzeria'); // an API process (all of this run's are named alike)
    expect(send?.spanId).toBe(delivery?.parentSpanContext?.spanId);
    expect(theirs.map((span) => span.name)).toEqual(
      expect.arrayContaining(['POST /api/orders/:id/ready', 'commit']),
    );
    // The projector's kitchen queue took the step's event in a batch, a trace of its own linked to this one.
    const batches = collector.spans().filter((span) => span.name === 'project kitchen-queue');
    expect(batches.some((batch) => batch.links?.some((link) => link.traceId === command?.traceId))).toBe(
      true,
    );
  });
});

/** A port nothing listens on yet. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The service comes up: a TCP forwarder on `port` to the real one. */
async function forward(port: number, target: { host: string; port: number }): Promise<Server> {
  const server = createServer((client) => {
    const upstream = tcpConnect(target.port, target.host);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe('starting while a service is down', () => {
  it('waits for PostgreSQL, saying so without its password, then serves', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const url = new URL(databaseUrl);
    const target = { host: url.hostname, port: Number(url.port || 5432) };
    url.port = String(port);
    url.password = 'never-logged';
    url.username = url.username || 'postgres';
    const api = start('all', { ...production, DATABASE_URL: url.href });
    await api.line(new RegExp(`waiting for PostgreSQL at 127\\.0\\.0\\.1:${port}/\\w+ \\(attempt 1`));
    const proxy = await forward(port, target);
    try {
      const address = (await api.line(/open at (http:\/\/\S+)/))[1] ?? '';
      expect((await fetch(`${address}/ready`)).status).toBe(200);
      expect(api.output()).not.toContain('never-logged');
    } finally {
      await stop(api);
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('runs the projector while NATS is down, and publishes once it answers', {
    timeout: 90_000,
  }, async () => {
    const port = await freePort();
    const [host, natsPort] = natsUrl.replace(/^nats:\/\//, '').split(':');
    const projector = start('projector', { ...production, NATS_URL: `127.0.0.1:${port}` });
    await projector.line(/projector running/);
    await projector.line(new RegExp(`waiting for NATS at 127\\.0\\.0\\.1:${port} \\(attempt 1`));
    const proxy = await forward(port, { host: host ?? '127.0.0.1', port: Number(natsPort ?? 4222) });
    try {
      await projector.line(/connected to NATS at/);
    } finally {
      await stop(projector);
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

describe('production mode without a token issuer', () => {
  it('refuses to start, naming the settings it needs, before opening anything', {
    timeout: 60_000,
  }, async () => {
    const { JWT_ISSUER: _i, JWT_AUDIENCE: _a, JWT_SECRET: _s, ...withoutIssuer } = production;
    const refused = start('all', withoutIssuer);
    await refused.line(/cannot start: production mode \(DATABASE_URL is set\) needs a token issuer/);
    const code = await new Promise<number | null>((resolve) => {
      if (refused.child.exitCode !== null) resolve(refused.child.exitCode);
      else refused.child.once('exit', resolve);
    });
    expect(code).toBe(2);
    expect(refused.output()).toContain('JWT_ISSUER and JWT_AUDIENCE');
  });
});

describe('embedded mode, as `npm start` runs it', () => {
  let dataDir = '';
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'pizzeria-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('creates its database on the first start, serves the menu, and keeps its orders across a restart', {
    timeout: 60_000,
  }, async () => {
    const first = start('all', { DATA_DIR: dataDir });
    const url = (await first.line(/open at (http:\/\/\S+)/))[1] ?? '';
    expect(first.output()).toContain('menu seeded');
    const menu = await json<{ items: { id: string }[] }>(await fetch(`${url}/api/menu`));
    expect(menu.items.map((pizza) => pizza.id)).toContain('margherita');
    const placing = await fetch(`${url}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customerName: 'Wario',
        customerPhone: '555 0500',
        pizzas: [{ name: 'diavola', size: 'small' }],
      }),
    });
    const location = placing.headers.get('location') ?? '';
    const { accessKey: _key, ...order } = await json<OrderDto>(placing);
    const login = await fetch(`${url}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'manager', password: 'manager' }),
    });
    const manager = { authorization: `Bearer ${(await json<{ accessToken: string }>(login)).accessToken}` };
    // A second process on the same directory would lose orders: it refuses, naming the directory and the holder.
    const intruder = start('all', { DATA_DIR: dataDir });
    await intruder.line(
      new RegExp(`cannot start: The embedded database in ${dataDir} is in use by process \\d+`),
    );
    await stop(first); // SIGTERM: a graceful stop, which closes the database
    expect(first.output()).not.toMatch(/error/i);

    const second = start('all', { DATA_DIR: dataDir });
    const again = (await second.line(/open at (http:\/\/\S+)/))[1] ?? '';
    expect(second.output()).not.toContain('menu seeded'); // seeded once, at the first start
    expect(await json<OrderDto>(await fetch(`${again}${location}`))).toEqual(order);
    // The development key was made at the first start and kept in the data directory: still signed in.
    expect((await fetch(`${again}/api/stats`, { headers: manager })).status).toBe(200);
    await stop(second);
  });
});
