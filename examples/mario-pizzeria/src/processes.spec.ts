// The pizzeria as a deployment runs it: two API processes and a projector, as separate operating-system
// processes started the way `npm start` starts one, on one PostgreSQL (a schema of this run's own) and NATS
// JetStream (streams of this run's own). An order placed through one API is read through the other at once,
// reaches the kitchen queue through the projector, and its readiness reaches NATS as an integration event, in the
// trace of the command that made the order ready, from the API process through the projector to this one.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatsMessageBus } from '@myelin/nats';
import { postgresDatabase } from '@myelin/postgres/pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderDto } from './shared/dtos.ts';
import { type Collector, startCollector } from './testing/otlpCollector.ts';

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const natsUrl = process.env.NATS_URL ?? '127.0.0.1:4222';
const run = crypto.randomUUID().replaceAll('-', '').slice(0, 10);
const schema = `pizzeria_test_${run}`;
const natsPrefix = `pizzeria_test_${run}`;
const stream = `${natsPrefix.toUpperCase()}_EVENTS`;
const exampleDir = fileURLToPath(new URL('..', import.meta.url));

/** The real services are required: a missing one fails this test (in CI and everywhere), it never skips. */
async function requireServices(): Promise<void> {
  const database = postgresDatabase({ connectionString: databaseUrl, schema: 'public', max: 1 });
  try {
    await database.query('SELECT 1');
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${databaseUrl} (set DATABASE_URL): ${String(error)}`);
  } finally {
    await database.close();
  }
  try {
    await (await connect({ servers: natsUrl, timeout: 5000 })).close();
  } catch (error) {
    throw new Error(`NATS is not reachable at ${natsUrl} (set NATS_URL): ${String(error)}`);
  }
}

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** The first line matching, once the process prints it. */
  readonly line: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
}

const processes: Started[] = [];

/** This run's token issuer: a secret made for it, as a deployment's identity provider would hold one. */
const issuer = {
  JWT_ISSUER: 'https://id.pizzeria.test',
  JWT_AUDIENCE: 'pizzeria',
  JWT_SECRET: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url'),
};

/** A token of this run's issuer, as a signed-in member of staff would hold one. */
function tokenFor(role: string): Promise<string> {
  return new SignJWT({ roles: [role] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(role)
    .setIssuer(issuer.JWT_ISSUER)
    .setAudience(issuer.JWT_AUDIENCE)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(issuer.JWT_SECRET));
}

/** The environment of a production process of this run. */
const production = {
  OTEL_EXPORTER_OTLP_ENDPOINT: '', // set once the collector listens
  DATABASE_URL: databaseUrl,
  DATABASE_SCHEMA: schema,
  NATS_URL: natsUrl,
  NATS_PREFIX: natsPrefix,
  ...issuer,
};

/** Starts `src/main.ts` with a role, as `npm start` does (through npx, so on the repository's Node). */
function start(role: 'api' | 'projector' | 'all', env: Record<string, string> = production): Started {
  const { DATABASE_URL: _url, NATS_URL: _nats, ...inherited } = process.env;
  const child = spawn('npx', ['node', '--conditions=@myelin/source', 'src/main.ts', '--role', role], {
    cwd: exampleDir,
    env: { ...inherited, PORT: '0', LOG_LEVEL: 'warn', ...env },
    // Its own process group: stopping it stops npx and the node it started, together.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const started: Started = {
    child,
    output: () => output,
    async line(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = output.match(pattern);
        if (match !== null) return match;
        if (child.exitCode !== null) throw new Error(`${role} exited (${child.exitCode}):\n${output}`);
        if (Date.now() > deadline)
          throw new Error(`${role} printed no ${pattern} in ${timeoutMs} ms:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
  processes.push(started);
  return started;
}

/** Whether any process of the group is still there. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM to the group (a graceful stop), SIGKILL if it takes too long. npx dies of the signal at once; the node
 * it started shuts down gracefully (requests, workers, database), so the wait is for the whole group to be gone.
 */
async function stop(started: Started): Promise<void> {
  const pid = started.child.pid;
  if (pid === undefined || !groupAlive(pid)) return;
  process.kill(-pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) process.kill(-pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (!response.ok) throw new Error(`${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

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
    await Promise.all(processes.map(stop));
    await collector[Symbol.asyncDispose]();
    trace.disable();
    context.disable();
    const database = postgresDatabase({ connectionString: databaseUrl, schema, max: 1 });
    await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
    await database.close();
    const nats = await connect({ servers: natsUrl });
    const jsm = await jetstreamManager(nats);
    for (const name of [stream, `${stream}_DEAD`]) await jsm.streams.delete(name).catch(() => false);
    await nats.close();
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
      service: `test-${run}`,
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
      const chef = { authorization: `Bearer ${await tokenFor('chef')}` };
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

    // One trace across three processes: the API's command, the projector's send to NATS, this one's delivery.
    await Promise.all(processes.map(stop)); // a graceful stop sends the spans still batched
    const delivery = exporter
      .getFinishedSpans()
      .find((span) => span.name === `process ${natsPrefix}.events.order.ready.v1`);
    const theirs = collector.spans().filter((span) => span.traceId === delivery?.spanContext().traceId);
    const command = theirs.find((span) => span.name === 'process MarkReady');
    const send = theirs.find((span) => span.name.startsWith('send '));
    expect(command?.service).toBe('mario-pizzeria'); // an API process (all of this run's are named alike)
    expect(send?.spanId).toBe(delivery?.parentSpanContext?.spanId);
    expect(theirs.map((span) => span.name)).toEqual(expect.arrayContaining(['request', 'commit']));
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
