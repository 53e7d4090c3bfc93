import type { Application } from '@myelin/core';
import type { AuthOptions, LiveLimits, RateLimit } from '@myelin/http';
import { createServer } from '@myelin/http';
import { type Database, postgresMetrics, postgresReadiness } from '@myelin/postgres';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { roles } from '../shared/roles.ts';
import { registerUi } from '../ui/ui.ts';
import { devUsers } from './auth.ts';
import { liveStreams } from './live.ts';
import { registerMetrics } from './metrics.ts';
import { api } from './routes.ts';

/**
 * How many orders one client may place: 20 a minute, a signed-in customer by their account (anyone may make
 * one), a guest by address. Staff taking orders (by phone, at the counter) are not counted.
 */
export const defaultOrderRateLimit: RateLimit = {
  max: 20,
  windowMs: 60_000,
  exemptRoles: [roles.chef, roles.driver, roles.manager],
};

export interface PizzeriaServerConfig {
  /** The pizzeria's application (see `buildPizzeria`). */
  readonly app: Application;
  /** Its database: for the live streams (which follow its log) and the readiness checks. */
  readonly database: Database;
  /** Who signs the tokens this API accepts. */
  readonly auth: AuthOptions;
  /** `POST /api/auth/token` for the development users (needs `auth` with a secret). */
  readonly devTokens: boolean;
  /** How many orders one client (a guest's address, a customer's account) may place; defaults to 20 a minute. */
  readonly orderRateLimit?: RateLimit;
  /** How many live streams may be open, in all and by one client; @myelin/http's defaults when absent. */
  readonly liveLimits?: LiveLimits;
  /** Which proxies' `X-Forwarded-For` names the client (Fastify's `trustProxy`); none by default. */
  readonly trustProxy?: boolean | number | string | undefined;
  /** Serve `GET /metrics` for Prometheus from this exporter (see `metrics.ts`); none by default. */
  readonly metrics?: PrometheusExporter;
  /** The bearer token `/metrics` asks of its scraper; none by default (then anyone who reaches the port reads it). */
  readonly metricsToken?: string;
  /** The process's logger (pino), for Fastify's request lines too; none by default. */
  readonly logger?: FastifyBaseLogger;
  /**
   * Run when the server closes, before the application is disposed: what else runs on the application (a
   * projection daemon, the relay) stops here, while the database is still open.
   */
  readonly onClose?: () => Promise<void>;
}

/**
 * The pizzeria's HTTP server: the API of routes.ts (with OpenAPI at /openapi.json and docs at /docs), its live
 * streams, /health and /ready, the web UI at / and Myelin's console at /_myelin. Closing it stops what `onClose` says, then disposes the
 * application; whoever opened the database closes it.
 */
export async function createPizzeriaServer(config: PizzeriaServerConfig): Promise<FastifyInstance> {
  const { app, database } = config;
  const server = await createServer({
    app,
    routes: api,
    auth: config.auth,
    ...(config.devTokens ? { devTokens: { users: devUsers } } : {}),
    openapi: {
      title: "Mario's Pizzeria",
      version: '1.0.0',
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'Order pizzas, follow them live, run the kitchen and the deliveries. Staff sign in with a bearer token; in development, `POST /api/auth/token` with `customer`, `chef`, `driver` or `manager` (the password is the name).',
    },
    health: { checks: postgresReadiness(database) },
    // A flood of orders would bury real ones on the kitchen board.
    rateLimits: { placeOrder: config.orderRateLimit ?? defaultOrderRateLimit },
    live: liveStreams(app, database),
    // Myelin's console at /_myelin: the projections, the relay, dead letters and each order's story, for the
    // manager only.
    console: { role: 'manager' },
    ...(config.liveLimits === undefined ? {} : { liveLimits: config.liveLimits }),
    fastify: {
      ...(config.logger === undefined ? { logger: false } : { loggerInstance: config.logger }),
      ...(config.trustProxy === undefined ? {} : { trustProxy: trustProxyOf(config.trustProxy) }),
    },
    // Disposed below, after what runs beside the server has stopped using the application.
    disposeOnClose: false,
  });
  server.addHook('onClose', async () => {
    await config.onClose?.();
    await app.dispose();
  });
  if (config.metrics !== undefined) {
    registerMetrics(server, config.metrics, config.metricsToken);
    postgresMetrics(database); // projections' lag and dead letters, read from the database at each scrape
  }
  await registerUi(server);
  return server;
}

/** Fastify takes a hop count as a function: the first `hops` proxies in front of the server are trusted. */
function trustProxyOf(
  setting: boolean | number | string,
): boolean | string | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}
