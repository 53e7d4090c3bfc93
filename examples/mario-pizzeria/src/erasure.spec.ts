// Issue 19's search test: a signed-in customer, whose name, phone, address, e-mail and notes are strings of this
// run's own, orders through the whole system as a deployment runs it (the kitchen, a driver, the integration events
// on NATS), then a manager erases them. Afterwards none of those strings is anywhere: in no column of any table of
// the pizzeria's schema (the log, the read models, the documents, the kept answers, ...) and in no message of its
// NATS streams; staff still see the orders, erased, and the statistics still count them. On PostgreSQL with NATS,
// in production mode (a projector and an API process), and on PGlite in embedded mode (`npm start`).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { erased } from '@myelin/core';
import type { Database } from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import { pgliteDatabase } from '@myelin/postgres/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { developmentMasterKey } from './keptKeys.ts';
import type { OrderDto, OrderPageDto, StatisticsDto } from './shared/dtos.ts';
import {
  databaseUrl,
  json,
  natsUrl,
  PizzeriaRun,
  requireServices,
  type Started,
  stop,
} from './testing/pizzeriaProcesses.ts';
import { columnsContaining, streamMessages } from './testing/searchEverything.ts';

const pizzeria = new PizzeriaRun();
afterAll(() => pizzeria.cleanUp(), 30_000);

/** What the customer types, each string unique to this run: found anywhere, it was kept. */
function personOf(run: string) {
  const digits = () => String(Math.floor(Math.random() * 10_000)).padStart(4, '0');
  return {
    customerName: `Rosalina ${run}`,
    customerPhone: `+39 06 ${digits()} ${digits()}`,
    customerAddress: `${run} Comet Observatory Lane`,
    customerEmail: `rosalina.${run}@observatory.example`,
    notes: `Leave it with Luma ${run}`,
  };
}
type Person = ReturnType<typeof personOf>;
const strings = (person: Person) => Object.values(person);

type Role = 'customer' | 'chef' | 'driver' | 'manager';

/** The API of one process, with a bearer token per role; each write's log position is kept for the next read. */
class Api {
  #position = '';
  readonly url: string;
  readonly tokens: Readonly<Record<Role, string>>;
  constructor(url: string, tokens: Readonly<Record<Role, string>>) {
    this.url = url;
    this.tokens = tokens;
  }

  async send<T>(
    method: string,
    path: string,
    as: Role | undefined,
    body?: object,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(as === undefined ? {} : { authorization: `Bearer ${this.tokens[as]}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.#position === '' ? {} : { 'myelin-position': this.#position }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const written = response.headers.get('myelin-position');
    if (method !== 'GET' && written !== null) this.#position = written;
    const text = await response.text();
    return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }

  async ok<T>(
    method: string,
    path: string,
    as: Role | undefined,
    body?: object,
    headers?: Record<string, string>,
  ) {
    const answer = await this.send<T>(method, path, as, body, headers);
    expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
    return answer.body;
  }
}

/** Reads until `check` holds of what was read (the projector and the publisher work after commit); at most 30 s. */
async function until<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Placed {
  readonly delivered: OrderDto;
  readonly cooking: OrderDto;
  readonly stats: StatisticsDto;
}

/**
 * The customer orders twice (the first with an Idempotency-Key, whose kept answer repeats their details); the first
 * is cooked, taken out and delivered, the second is left cooking. Answers once the async read models have it all.
 */
async function orderThroughEverything(api: Api, person: Person): Promise<Placed> {
  const order = { ...person, pizzas: [{ name: 'margherita', size: 'large', toppings: ['basil'] }] };
  const idempotent = { 'idempotency-key': `first-${pizzeria.id}` };
  const first = await api.ok<OrderDto>('POST', '/api/orders', 'customer', order, idempotent);
  const second = await api.ok<OrderDto>('POST', '/api/orders', 'customer', order);
  expect(first).toMatchObject({ customerName: person.customerName, customerPhone: person.customerPhone });
  for (const [step, as] of [
    ['cooking', 'chef'],
    ['ready', 'chef'],
    ['delivery', 'driver'],
    ['delivered', 'driver'],
  ] as const)
    await api.ok('POST', `/api/orders/${first.id}/${step}`, as, {});
  const cooking = await api.ok<OrderDto>('POST', `/api/orders/${second.id}/cooking`, 'chef', {});
  const delivered = await api.ok<OrderDto>('GET', `/api/orders/${first.id}`, 'customer');
  const queue = () => api.ok<OrderPageDto>('GET', '/api/kitchen/queue?pageSize=200', 'chef');
  await until('the kitchen queue', queue, (page) => page.items.some((o) => o.id === cooking.id));
  const stats = await until(
    'the statistics',
    () => api.ok<StatisticsDto>('GET', '/api/stats', 'manager'),
    (s) => s.ordersByStatus.delivered === 1 && s.ordersByStatus.cooking === 1,
  );
  return { delivered, cooking, stats };
}

/** The manager erases the customer; staff still see their orders, erased; they see none; the numbers stand. */
async function eraseAndLook(api: Api, placed: Placed): Promise<void> {
  const customerId = placed.delivered.customerId;
  expect(customerId).toMatch(/^customer-/);
  expect((await api.send('DELETE', `/api/customers/${customerId}`, 'chef')).status).toBe(403);
  await api.ok('DELETE', `/api/customers/${customerId}?reason=request%20by%20e-mail`, 'manager');
  const erasedDetails = {
    customerName: erased,
    customerPhone: erased,
    customerAddress: erased,
    notes: erased,
  };
  for (const order of [placed.delivered, placed.cooking]) {
    expect((await api.send('GET', `/api/orders/${order.id}`, 'customer')).status).toBe(404);
    expect(await api.ok('GET', `/api/orders/${order.id}`, 'manager')).toMatchObject({
      ...erasedDetails,
      customerEmail: erased,
      status: order.status,
      total: order.total,
    });
  }
  const queue = await api.ok<OrderPageDto>('GET', '/api/kitchen/queue?pageSize=200', 'chef');
  expect(queue.items.find((o) => o.id === placed.cooking.id)).toMatchObject(erasedDetails);
  expect(await api.ok('GET', '/api/stats', 'manager')).toEqual(placed.stats);
}

/** Where each of the customer's strings is still kept in the database: nowhere, once erased. */
async function keptInDatabase(database: Database, person: Person): Promise<Record<string, string[]>> {
  const kept: Record<string, string[]> = {};
  for (const text of strings(person)) {
    kept[text] = (await columnsContaining(database, text)).map((hit) => `${hit.table}.${hit.column}`);
  }
  return kept;
}

/** The person's strings that a process printed (its log lines), with the process's role. */
const loggedBy = (processes: readonly Started[], person: Person) =>
  processes.flatMap((started) =>
    strings(person)
      .filter((text) => started.output().includes(text))
      .map((text) => `${started.role}: ${text}`),
  );

const nowhere = (person: Person) => Object.fromEntries(strings(person).map((text) => [text, []]));

describe('erasing a customer on PostgreSQL and NATS, as a deployment runs', () => {
  let database: Database;
  let projector: Started;
  let apiProcess: Started;
  let api: Api;
  const person = personOf(pizzeria.id);

  beforeAll(async () => {
    await requireServices();
    // Logging every request, so that the search of their lines below sees something.
    const logged = { ...pizzeria.production, LOG_LEVEL: 'info' };
    projector = pizzeria.start('projector', logged);
    apiProcess = pizzeria.start('api', logged);
    const url = (await apiProcess.line(/open at (http:\/\/\S+)/))[1] ?? '';
    await projector.line(/projector running/);
    api = new Api(url, {
      customer: await pizzeria.tokenFor('customer', `rosalina-${pizzeria.id}`),
      chef: await pizzeria.tokenFor('chef'),
      driver: await pizzeria.tokenFor('driver'),
      manager: await pizzeria.tokenFor('manager'),
    });
    database = postgresDatabase({ connectionString: databaseUrl, schema: pizzeria.schema, max: 1 });
  }, 90_000);
  afterAll(async () => {
    await database?.close();
  });

  it('leaves none of their strings in any table or column, nor on the NATS stream', {
    timeout: 120_000,
  }, async () => {
    const placed = await orderThroughEverything(api, person);
    await projector.line(/connected to NATS at/);
    const published = await until(
      'the integration events of the delivered order on NATS',
      () => streamMessages(natsUrl, pizzeria.stream),
      (messages) => messages.filter((m) => m.text.includes(placed.delivered.id)).length >= 2,
    );

    // Before: the customer's details are in the read models, their profile and the kept answer, in clear; the
    // log has them sealed; the integration events never carried them.
    const before = await columnsContaining(database, person.customerName);
    expect(new Set(before.map((hit) => `${hit.table}.${hit.column}`))).toEqual(
      new Set(['documents.state', 'read_documents.doc', 'idempotency_keys.response']),
    );
    expect(published.filter((m) => strings(person).some((text) => m.text.includes(text)))).toEqual([]);

    await eraseAndLook(api, placed);

    expect(await keptInDatabase(database, person)).toEqual(nowhere(person));
    const messages = await streamMessages(natsUrl, pizzeria.stream);
    expect(messages.filter((m) => strings(person).some((text) => m.text.includes(text)))).toEqual([]);
    // The searches see what is there: the order, its erased details, its messages.
    expect(await columnsContaining(database, placed.delivered.id)).not.toEqual([]);
    expect(await columnsContaining(database, erased)).not.toEqual([]);
    expect(messages.filter((m) => m.text.includes(placed.delivered.id)).length).toBeGreaterThanOrEqual(2);
    // Nor did any line either process logged, before or after (their request lines name the order).
    expect(loggedBy([apiProcess, projector], person)).toEqual([]);
    expect(apiProcess.output()).toContain(placed.delivered.id);
    const { rows } = await database.query(
      `SELECT subject, requested_by, reason, keys, responses FROM ${database.schema}.erasures`,
    );
    expect(rows).toEqual([
      {
        subject: placed.delivered.customerId,
        requested_by: 'manager',
        reason: 'request by e-mail',
        keys: 1,
        responses: 1,
      },
    ]);
  });
});

describe('erasing a customer on PGlite, in embedded mode', () => {
  let dataDir = '';
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'pizzeria-erasure-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('leaves none of their strings in any table or column', { timeout: 120_000 }, async () => {
    const person = personOf(crypto.randomUUID().slice(0, 10));
    const embedded = pizzeria.start('all', { DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    const url = (await embedded.line(/open at (http:\/\/\S+)/))[1] ?? '';
    const token = async (username: Role) =>
      (
        await json<{ accessToken: string }>(
          await fetch(`${url}/api/auth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username, password: username }),
          }),
        )
      ).accessToken;
    const api = new Api(url, {
      customer: await token('customer'),
      chef: await token('chef'),
      driver: await token('driver'),
      manager: await token('manager'),
    });
    const placed = await orderThroughEverything(api, person);
    await eraseAndLook(api, placed);
    await stop(embedded); // the embedded database is the process's own while it runs
    expect(loggedBy([embedded], person)).toEqual([]);
    expect(embedded.output()).toContain(placed.delivered.id);

    // The master key was made at the first start and kept beside the database, readable by its owner alone.
    expect(statSync(join(dataDir, developmentMasterKey.file)).mode & 0o777).toBe(0o600);
    const database = await pgliteDatabase({ dataDir, schema: 'pizzeria' });
    try {
      expect(await keptInDatabase(database, person)).toEqual(nowhere(person));
      expect(await columnsContaining(database, placed.delivered.id)).not.toEqual([]);
      expect(await columnsContaining(database, erased)).not.toEqual([]);
    } finally {
      await database.close();
    }
  });
});
