// Faults under load, on services of the test's own (never the machine's shared ones): a PostgreSQL cluster and a
// NATS server that the test stops and freezes while orders keep coming. What must hold: no request hangs past the
// database's timeouts, the API answers 503 (never 500) while it cannot work, it recovers by itself, and every
// order it answered 201 for is there afterwards; while NATS is away, orders go on and every integration event is
// published once it is back.

import { type Application, localMasterKey, newMasterKey } from '@myelin/core';
import { NatsMessageBus } from '@myelin/nats';
import {
  type Database,
  EventRelay,
  IntegrationPublisher,
  ProjectionDaemon,
  untilServing,
} from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ephemeralDevelopmentAuth } from './api/auth.ts';
import { createPizzeriaServer } from './api/server.ts';
import { SeedMenu } from './menu/contract.ts';
import { buildPizzeria } from './pizzeria.ts';
import { integrationEvents } from './shared/integrationEvents.ts';
import { systemPrincipal } from './shared/roles.ts';
import { postgresStorage, projections } from './storage.ts';
import { type OwnService, ownNats, ownPostgres } from './testing/ownServices.ts';
import { fastRunners } from './testing/testPizzeria.ts';

/** Short database timeouts, so that a frozen server costs seconds here; the defaults are in the README. */
const timeouts = { connectMs: 2000, statementMs: 2000, lockMs: 2000, idleInTransactionMs: 5000 };
/**
 * The longest a request may take while the database is frozen: a statement's timeout and the client's grace
 * after it (5 s, for a server that cannot even cancel), a wait for a pooled connection, and some slack for a busy
 * machine. Anything longer is a hang.
 */
const longestMs = timeouts.statementMs + 5000 + timeouts.connectMs + 4000;
const stream = 'PIZZERIA_FAULTS_EVENTS';

let postgres: OwnService;
let nats: OwnService;
let database: Database;
let app: Application;
let server: FastifyInstance;
let base = '';
let chef = '';
const workers: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  postgres = await ownPostgres();
  nats = await ownNats();
  database = postgresDatabase({ connectionString: postgres.url, schema: 'pizzeria', timeouts });
  app = await buildPizzeria(postgresStorage(database, { masterKey: localMasterKey(newMasterKey()) }));
  const bus = await NatsMessageBus.connect({
    service: 'mario-pizzeria',
    servers: nats.url,
    stream,
    subjectPrefix: 'faults.events',
    deadLetterPrefix: 'faults.dead',
  });
  workers.push(
    new ProjectionDaemon(app, database, fastRunners).start(),
    new EventRelay(app, database, fastRunners).start(),
    new IntegrationPublisher(app, database, bus, { events: integrationEvents, ...fastRunners }).start(),
    { stop: () => bus.close() },
  );
  await untilServing(database, projections);
  const seeded = await app.mediator.execute(new SeedMenu({}), { principal: systemPrincipal });
  if (!seeded.ok) throw new Error(seeded.problem.detail);
  server = await createPizzeriaServer({
    app,
    database,
    auth: ephemeralDevelopmentAuth(),
    devTokens: true,
    orderRateLimit: { max: 100_000 },
  });
  base = await server.listen({ port: 0, host: '127.0.0.1' });
  const login = await fetch(`${base}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'chef', password: 'chef' }),
  });
  chef = ((await login.json()) as { accessToken: string }).accessToken;
}, 120_000);

afterAll(async () => {
  postgres?.thaw();
  nats?.thaw();
  await server?.close();
  for (const worker of workers.reverse()) await worker.stop().catch(() => {});
  await app?.dispose();
  await database?.close();
  await postgres?.[Symbol.asyncDispose]();
  await nats?.[Symbol.asyncDispose]();
}, 60_000);

interface Answer {
  readonly what: string;
  readonly status: number;
  readonly ms: number;
  readonly body: unknown;
}

/** Requests one after the other, on two lanes, until stopped: what each answered and how long it took. */
function traffic(step: (lane: number) => Promise<void>) {
  let stopped = false;
  const lanes = [0, 1].map(async (lane) => {
    while (!stopped) await step(lane);
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(lanes);
    },
  };
}

const answers: Answer[] = [];
async function call(what: string, path: string, body: object, token?: string): Promise<Answer> {
  const started = performance.now();
  let answer: Answer;
  try {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000), // far past any limit: a hang shows as status 0
    });
    answer = { what, status: response.status, ms: performance.now() - started, body: await response.json() };
  } catch (error) {
    answer = { what, status: 0, ms: performance.now() - started, body: String(error) };
  }
  answers.push(answer);
  return answer;
}

const anOrder = {
  customerName: 'Fault',
  customerPhone: '555 0999',
  pizzas: [{ name: 'margherita', size: 'large' }],
};

/** Waits until a count of answers (after a mark) meets a condition: the test moves on signals, not sleeps. */
async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) {
      throw new Error(`${what}: not in ${ms} ms; answers: ${JSON.stringify(summary(answers))}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
const since = (mark: number, status: number) => answers.slice(mark).filter((a) => a.status === status).length;
const summary = (list: readonly Answer[]) =>
  Object.entries(Object.groupBy(list, (a) => `${a.what} ${a.status}`)).map(([k, v]) => `${k}×${v?.length}`);

/** What /ready answers: the load balancer's question. */
async function readiness(): Promise<number> {
  return (await fetch(`${base}/ready`, { signal: AbortSignal.timeout(60_000) })).status;
}

/** Every order answered 201 can be read, with its key, once the database is back. */
async function everyPlacedOrderIsThere(list: readonly Answer[]): Promise<number> {
  const placed = list.filter((a) => a.what === 'place' && a.status === 201);
  for (const answer of placed) {
    const { id, accessKey } = answer.body as { id: string; accessKey: string };
    const response = await fetch(`${base}/api/orders/${id}?key=${accessKey}`);
    expect(response.status, `order ${id}, placed with a 201`).toBe(200);
  }
  return placed.length;
}

function expectOnly503sAndNoHang(list: readonly Answer[]): void {
  for (const answer of list) {
    expect([201, 503], `${answer.what}: ${JSON.stringify(answer.body)}`).toContain(answer.status);
    expect(
      answer.ms,
      `${answer.what} answered ${answer.status} after ${Math.round(answer.ms)} ms`,
    ).toBeLessThan(longestMs);
    if (answer.status === 503) {
      expect(answer.body).toMatchObject({ status: 503 });
    }
  }
}

/**
 * Places orders on two lanes through a fault of PostgreSQL: some 201s before, 503s (and an unready `/ready`)
 * during, 201s again after, no answer slower than the timeouts allow, and every 201's order there afterwards.
 */
async function ordersThrough(
  fault: string,
  begin: () => Promise<void>,
  end: () => Promise<void>,
): Promise<void> {
  const first = answers.length;
  const orders = traffic(async () => {
    await call('place', '/api/orders', anOrder);
  });
  try {
    await until(() => since(first, 201) >= 3, `orders before PostgreSQL is ${fault}`);
    await begin();
    const during = answers.length;
    await until(() => since(during, 503) >= 3, `503s while PostgreSQL is ${fault}`);
    const started = performance.now();
    expect(await readiness()).toBe(503);
    expect(performance.now() - started).toBeLessThan(longestMs);
    await end();
    const back = answers.length;
    await until(() => since(back, 201) >= 3, `orders after PostgreSQL was ${fault}`);
  } finally {
    postgres.thaw();
    await orders.stop();
  }
  const mine = answers.slice(first);
  expectOnly503sAndNoHang(mine);
  expect(await readiness()).toBe(200);
  expect(await everyPlacedOrderIsThere(mine)).toBeGreaterThanOrEqual(6);
}

describe('faults on our own PostgreSQL and NATS', () => {
  it('PostgreSQL stopped under a stream of orders: 503s while it is down, 201s again once it is back, every 201 kept', async () => {
    await ordersThrough(
      'stopped',
      () => postgres.stop(),
      () => postgres.start(),
    );
  }, 180_000);

  it('PostgreSQL frozen under a stream of orders: 503s within its timeouts, no hang, recovery after, every 201 kept', async () => {
    await ordersThrough(
      'frozen',
      async () => postgres.freeze(),
      async () => postgres.thaw(),
    );
  }, 180_000);

  it('NATS stopped, then frozen: orders and the kitchen go on, and every ready order is published once it is back', async () => {
    const first = answers.length;
    const ready: string[] = [];
    const kitchen = traffic(async () => {
      const placed = await call('place', '/api/orders', anOrder);
      if (placed.status !== 201) return;
      const { id } = placed.body as { id: string };
      await call('cook', `/api/orders/${id}/cooking`, {}, chef);
      if ((await call('ready', `/api/orders/${id}/ready`, {}, chef)).status === 200) ready.push(id);
    });
    try {
      await until(() => ready.length >= 2, 'ready orders before the outage');
      await nats.stop();
      let mark = ready.length;
      await until(() => ready.length >= mark + 3, 'ready orders while NATS is down');
      await nats.start();
      nats.freeze();
      mark = ready.length;
      await until(() => ready.length >= mark + 3, 'ready orders while NATS is frozen');
      nats.thaw();
      mark = ready.length;
      await until(() => ready.length >= mark + 2, 'ready orders after NATS thawed');
    } finally {
      nats.thaw();
      await kitchen.stop();
    }
    // NATS was never needed to answer: every request succeeded, none slowly.
    for (const answer of answers.slice(first)) {
      expect([200, 201], `${answer.what}: ${JSON.stringify(answer.body)}`).toContain(answer.status);
      expect(answer.ms).toBeLessThan(longestMs);
    }
    // Every ready order reaches the stream: the publisher kept its place in the log while NATS was away.
    const connection = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(connection);
      const published = new Set<string>();
      const deadline = performance.now() + 60_000;
      for (;;) {
        const info = await jsm.streams.info(stream);
        for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
          const message = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
          const event = message?.json<{ type: string; data: { orderId: string } }>();
          if (event?.type === 'order.ready.v1') published.add(event.data.orderId);
        }
        if (ready.every((id) => published.has(id)) || performance.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(ready.filter((id) => !published.has(id))).toEqual([]);
    } finally {
      await connection.close();
    }
  }, 240_000);
});
