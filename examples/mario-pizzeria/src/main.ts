// Runs Mario's Pizzeria: `npm start` at the repository root. With nothing configured it is one process on an
// embedded database (PGlite in ./.data); the environment and --role turn it into the processes of a deployment.
import { fileURLToPath } from 'node:url';
import { type Application, activeTraceIds } from '@myelin/core';
import { serve } from '@myelin/http';
import { NatsMessageBus } from '@myelin/nats';
import {
  type Database,
  DirectoryLockedError,
  EventRelay,
  IntegrationPublisher,
  MissingMasterKeyError,
  PostgresMessageScheduler,
  ProjectionDaemon,
  untilServing,
} from '@myelin/postgres';
import pino from 'pino';
import { developmentAuth } from './api/auth.ts';
import { prometheusMetrics } from './api/metrics.ts';
import { createPizzeriaServer } from './api/server.ts';
import { ConfigError, dataDirOf, isLoopback, type PizzeriaConfig, readConfig } from './config.ts';
import { masterKeysOf, rewrapAtStart } from './masterKeys.ts';
import { SeedMenu } from './menu/contract.ts';
import { menu } from './menu/menuProjection.ts';
import { orderSummaries } from './orders/orderSummaries.ts';
import { buildPizzeria } from './pizzeria.ts';
import { integrationEvents } from './shared/integrationEvents.ts';
import { systemPrincipal } from './shared/roles.ts';
import { describeUrl, openDatabase, untilAvailable } from './startup.ts';
import { postgresStorage, projections } from './storage.ts';
import { startTracing } from './telemetry.ts';

/** What runs beside the HTTP server on the application, and stops before it is disposed. */
interface Worker {
  stop(): Promise<void>;
}

/**
 * The projector's work: the async projections, the in-process event handlers (the order watch among them), the
 * scheduled messages (its alerts and cancellations) and the integration events.
 */
function startWorkers(config: PizzeriaConfig, app: Application, database: Database): Worker[] {
  const workers: Worker[] = [
    new ProjectionDaemon(app, database).start(),
    new EventRelay(app, database).start(),
    new PostgresMessageScheduler(app, database).start(),
  ];
  if (config.nats !== undefined) workers.push(publishToNats(config.nats, app, database));
  return workers;
}

/**
 * Publishes the integration events to NATS once it answers: the rest of the process does not wait for it, and
 * nothing is lost meanwhile, since the publisher reads them from the log from where it stopped.
 */
function publishToNats(
  nats: NonNullable<PizzeriaConfig['nats']>,
  app: Application,
  database: Database,
): Worker {
  const stopping = new AbortController();
  const started = untilAvailable(
    `NATS at ${describeUrl(nats.url, 4222)}`,
    () =>
      NatsMessageBus.connect({
        service: 'mario-pizzeria',
        servers: nats.url,
        stream: `${nats.prefix.toUpperCase().replaceAll('-', '_')}_EVENTS`,
        subjectPrefix: `${nats.prefix}.events`,
        deadLetterPrefix: `${nats.prefix}.dead`,
      }),
    // Whatever stops a connection now (refused, a timeout, a broker starting) may pass.
    { log: console.log, transient: () => true, signal: stopping.signal },
  ).then((bus) => {
    if (stopping.signal.aborted) return { stop: () => bus.close() };
    console.log(`  connected to NATS at ${describeUrl(nats.url, 4222)}: publishing integration events`);
    const publisher = new IntegrationPublisher(app, database, bus, { events: integrationEvents }).start();
    return {
      async stop() {
        await publisher.stop();
        await bus.close();
      },
    };
  });
  return {
    async stop() {
      stopping.abort();
      const worker = await started.catch(() => undefined);
      await worker?.stop();
    },
  };
}

async function stopAll(workers: readonly Worker[]): Promise<void> {
  for (const worker of workers) await worker.stop();
}

async function run(config: PizzeriaConfig): Promise<void> {
  // Before the application is built: its instruments come from the meter provider registered then.
  const metrics = config.metrics ? prometheusMetrics() : undefined;
  const stopTracing = startTracing();
  // One logger for the process: Fastify's request lines, and what the workers survive (the relay, the
  // projection daemon, the NATS consumers), all as JSON lines with the same fields; a line written while a span is
  // active names it (`trace_id`, `span_id`), so that a trace's backend and the logs join up.
  const logger = pino({ level: config.logLevel, mixin: () => ({ ...activeTraceIds() }) });
  const database = await openDatabase(config.database);
  const keys = masterKeysOf(config);
  // Migrates the schema, records the projections; the application closes the database when disposed.
  const app = await buildPizzeria(postgresStorage(database, { ...keys, closeDatabase: true }), {
    logger,
    alerts: config.alerts,
  });
  const workers =
    config.role === 'api'
      ? []
      : // After a rotation, the data keys still under a previous master key move under the current one.
        [...startWorkers(config, app, database), rewrapAtStart(database, keys, logger)];

  // The inline read models must be serving before the first command, or its writes would not show at once.
  // A process with a daemon builds them in a moment; an API process waits for a projector to.
  const needed = config.role === 'api' ? [orderSummaries, menu] : projections;
  await untilServing(database, needed, {
    onWait: (names) => console.log(`  waiting for a projector to build ${names.join(', ')}...`),
  });
  const seeded = await app.mediator.execute(new SeedMenu({}), { principal: systemPrincipal });
  if (!seeded.ok) console.warn(`  the menu was not seeded: ${seeded.problem.detail}`);
  else if (seeded.data.added.length > 0) console.log(`  menu seeded: ${seeded.data.added.join(', ')}`);

  if (config.role === 'projector') {
    console.log(`Mario's Pizzeria projector running (${describe(config)})`);
    const stop = async () => {
      await stopAll(workers);
      await app.dispose();
      await stopTracing?.(); // sends the spans still batched
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return;
  }

  const server = await createPizzeriaServer({
    app,
    database,
    auth: config.auth === 'development' ? developmentAuth(dataDirOf(config)) : config.auth,
    devTokens: config.devTokens,
    logger,
    liveLimits: config.liveLimits,
    trustProxy: config.trustProxy,
    ...(metrics === undefined ? {} : { metrics }),
    ...(config.metricsToken === undefined ? {} : { metricsToken: config.metricsToken }),
    onClose: async () => {
      await stopAll(workers);
      await stopTracing?.(); // sends the spans still batched
    },
  });
  // Listens; on SIGINT or SIGTERM it finishes in-flight requests, ends live streams, then closes the server,
  // which stops the workers and disposes the application (and with it the database).
  const address = await serve(server, { port: config.port, host: config.host });
  console.log(`Mario's Pizzeria is open at ${address} (${describe(config)})`);
  // Fastify names one address; listening on all of them (0.0.0.0, a container's) is said outright.
  if (!isLoopback(config.host)) console.log(`  listening on ${config.host}: other machines can reach it`);
  if (config.devTokens) {
    console.log('  sign in as customer, chef, driver or manager (the password is the name)');
    if (!isLoopback(config.host)) {
      console.log(
        '  warning: the development logins are open to every machine that reaches this one (DEV_TOKENS=true)',
      );
    }
  }
}

function describe(config: PizzeriaConfig): string {
  const database =
    config.database.engine === 'pglite'
      ? `embedded database in ${config.database.dataDir}`
      : `PostgreSQL, schema ${config.database.schema}`;
  return [`role ${config.role}`, database, ...(config.nats === undefined ? [] : ['NATS'])].join(', ');
}

try {
  const dataDir = fileURLToPath(new URL('../.data', import.meta.url));
  await run(readConfig(process.argv.slice(2), process.env, dataDir));
} catch (error) {
  if (error instanceof MissingMasterKeyError) {
    // The library's words name its option; an operator of the pizzeria sets an environment variable.
    const named = error.missing.map(({ masterKey, keys }) => `${keys} under '${masterKey}'`).join(', ');
    console.error(
      `Mario's Pizzeria cannot start: customers' data keys are wrapped by a master key it is not given (${named}), so their personal data could not be read. Give it in MYELIN_PREVIOUS_MASTER_KEYS as id:key (README.md, "Rotating the master key")`,
    );
  } else if (error instanceof ConfigError || error instanceof DirectoryLockedError) {
    console.error(`Mario's Pizzeria cannot start: ${error.message}`);
  } else throw error;
  process.exitCode = 2;
}
