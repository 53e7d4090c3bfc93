// Test support (not a spec): the pizzeria on an in-memory PGlite, with its projection daemon running and its
// menu seeded, and optionally its HTTP server; each test gets its own, so tests run in parallel.
import { type Application, localMasterKey, type MasterKey, newMasterKey } from '@myelin/core';
import { issueToken } from '@myelin/http';
import {
  type Database,
  EventRelay,
  PostgresMessageScheduler,
  ProjectionDaemon,
  untilServing,
} from '@myelin/postgres';
import { pgliteDatabase } from '@myelin/postgres/pglite';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ephemeralDevelopmentAuth } from '../api/auth.ts';
import { createPizzeriaServer, type PizzeriaServerConfig } from '../api/server.ts';
import { SeedMenu } from '../menu/contract.ts';
import { buildPizzeria, type PizzeriaOptions } from '../pizzeria.ts';
import { systemPrincipal } from '../shared/roles.ts';
import { postgresStorage, projections, type StorageOptions } from '../storage.ts';

export interface TestPizzeria extends AsyncDisposable {
  readonly app: Application;
  readonly database: Database;
  readonly daemon: ProjectionDaemon;
}

/** Runners that notice quickly (a test waits on them), and stay quiet about the errors a closing test causes. */
export const fastRunners = { pollMs: 100, leaseRetryMs: 100, onError: () => {} };

export interface TestWorkers {
  /** Also run the event relay and the scheduler, as a projector does (the order watch needs them). */
  readonly workers?: boolean;
}

export interface TestKeys {
  /** The master key of personal data; a new one by default. */
  readonly masterKey?: MasterKey;
}

export async function testPizzeria(
  options: PizzeriaOptions & StorageOptions & TestWorkers & TestKeys = {},
): Promise<TestPizzeria> {
  const database = await pgliteDatabase();
  const app = await buildPizzeria(
    postgresStorage(database, {
      masterKey: options.masterKey ?? localMasterKey(newMasterKey()),
      readYourWritesTimeoutMs: options.readYourWritesTimeoutMs ?? 5000,
      ...(options.scheduleClock === undefined ? {} : { scheduleClock: options.scheduleClock }),
    }),
    options,
  );
  const daemon = new ProjectionDaemon(app, database, fastRunners).start();
  const workers =
    options.workers === true
      ? [
          new EventRelay(app, database, fastRunners).start(),
          new PostgresMessageScheduler(app, database, fastRunners).start(),
        ]
      : [];
  await untilServing(database, projections);
  const seeded = await app.mediator.execute(new SeedMenu({}), { principal: systemPrincipal });
  if (!seeded.ok) throw new Error(`seeding failed: ${seeded.problem.detail}`);
  return {
    app,
    database,
    daemon,
    async [Symbol.asyncDispose]() {
      for (const worker of workers) await worker.stop();
      await daemon.stop();
      await app.dispose();
      await database.close();
    },
  };
}

export interface TestServer extends AsyncDisposable {
  readonly server: FastifyInstance;
  readonly pizzeria: TestPizzeria;
  /** A development token for a user (customer, chef, driver or manager), as the UI gets one. */
  token(username: string): Promise<string>;
  /** A token the server accepts for any subject and roles, as an identity provider would issue it. */
  tokenOf(subject: string, roles: readonly string[]): Promise<string>;
  /** A request through Fastify's inject, signed in as a development user (`as`) or with a token, or neither. */
  call(method: Method, url: string, options?: CallOptions): Promise<LightMyRequestResponse>;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface CallOptions {
  readonly as?: string;
  readonly token?: string;
  readonly payload?: object;
  readonly headers?: Record<string, string>;
}

/** The pizzeria's HTTP server over a {@link testPizzeria}, with the development users. */
export async function testServer(
  options: PizzeriaOptions & StorageOptions & TestWorkers = {},
  serverOptions: Pick<PizzeriaServerConfig, 'orderRateLimit' | 'metrics' | 'metricsToken'> = {},
): Promise<TestServer> {
  const pizzeria = await testPizzeria(options);
  const auth = ephemeralDevelopmentAuth();
  const server = await createPizzeriaServer({
    // The tests place more orders from one address than a customer would; the limit has its own test.
    orderRateLimit: { max: 10_000 },
    ...serverOptions,
    app: pizzeria.app,
    database: pizzeria.database,
    auth,
    devTokens: true,
    onClose: () => pizzeria.daemon.stop(),
  });
  await server.ready();
  const tokens = new Map<string, string>();
  async function token(username: string): Promise<string> {
    const known = tokens.get(username);
    if (known !== undefined) return known;
    const response = await server.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { username, password: username },
    });
    if (response.statusCode !== 200) throw new Error(`no token for ${username}: ${response.body}`);
    const issued = (response.json() as { accessToken: string }).accessToken;
    tokens.set(username, issued);
    return issued;
  }
  return {
    server,
    pizzeria,
    token,
    tokenOf: (subject, roles) => issueToken(auth, { username: subject, password: '', roles }, 300),
    async call(method, url, options = {}) {
      const bearer = options.token ?? (options.as === undefined ? undefined : await token(options.as));
      return server.inject({
        method,
        url,
        headers: {
          ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
          ...options.headers,
        },
        ...(options.payload === undefined ? {} : { payload: options.payload }),
      });
    },
    async [Symbol.asyncDispose]() {
      await server.close(); // stops the daemon and disposes the application
      await pizzeria.database.close();
    },
  };
}
