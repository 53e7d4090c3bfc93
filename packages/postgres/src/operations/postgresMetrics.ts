// What an operator watches, as OpenTelemetry metrics read when they are collected (a scrape): how far behind each
// subscription of the log is, the outbox's backlog, retries and dead letters (from the database, one status read
// per collection), and this process's leases and connection pool (from memory).
import { type Meter, metrics } from '@opentelemetry/api';
import type { Database } from '../database/database.ts';
import { leasesOf } from '../subscriptions/leases.ts';
import { PostgresOperations } from './postgresOperations.ts';

export interface PostgresMetricsOptions {
  /** Defaults to the global meter provider's meter named `@myelin/postgres`. */
  readonly meter?: Meter;
}

/**
 * Observes, at each collection:
 * - `myelin.projection.lag` (`{event}`) and `myelin.projection.lag.age` (`s`): events of a projection version's
 *   types after its checkpoint, and how long ago the oldest of them occurred;
 * - `myelin.relay.lag` (`{event}`) and `myelin.relay.lag.age` (`s`): the same for each event handler's
 *   subscription;
 * - `myelin.outbox.backlog` (`{event}`) and `myelin.outbox.backlog.age` (`s`): integration events not yet
 *   published to the bus;
 * - `myelin.relay.retries` (`{event}`): events waiting for another attempt, by subscription;
 * - `myelin.dead_letters` (`{event}`): events parked by each subscription after their last attempt;
 * - `myelin.leases.held` (`{lease}`): the subscriptions this process runs;
 * - `db.client.connection.count` (`{connection}`, by `db.client.connection.state`: idle or used),
 *   `db.client.connection.max` and `db.client.connection.pending_requests`: the pool's use, on PostgreSQL.
 * Each collection reads the database once; when it cannot, the database's instruments report nothing.
 * Call it once per process, after registering a meter provider.
 * @example postgresMetrics(database);
 */
export function postgresMetrics(database: Database, options: PostgresMetricsOptions = {}): void {
  const meter = options.meter ?? metrics.getMeter('@myelin/postgres');
  const gauge = (name: string, unit: string, description: string) =>
    meter.createObservableGauge(name, { unit, description });
  const projectionLag = gauge(
    'myelin.projection.lag',
    '{event}',
    "Events of a projection version's types after its checkpoint",
  );
  const projectionAge = gauge(
    'myelin.projection.lag.age',
    's',
    'How long ago the oldest event a projection version has yet to apply occurred',
  );
  const relayLag = gauge('myelin.relay.lag', '{event}', "Events of a handler's type after its checkpoint");
  const relayAge = gauge(
    'myelin.relay.lag.age',
    's',
    'How long ago the oldest event a handler has yet to take occurred',
  );
  const backlog = gauge(
    'myelin.outbox.backlog',
    '{event}',
    'Integration events not yet published to the bus',
  );
  const backlogAge = gauge(
    'myelin.outbox.backlog.age',
    's',
    'How long ago the oldest integration event not yet published occurred',
  );
  const retries = gauge('myelin.relay.retries', '{event}', 'Events waiting for another attempt');
  const dead = gauge(
    'myelin.dead_letters',
    '{event}',
    'Events a subscription parked after its last attempt, waiting to be replayed',
  );
  const leases = gauge('myelin.leases.held', '{lease}', 'Subscriptions of the log this process runs');
  const connections = gauge('db.client.connection.count', '{connection}', 'Connections open, by state');
  const maxConnections = gauge(
    'db.client.connection.max',
    '{connection}',
    'The most connections the pool opens',
  );
  const pending = gauge(
    'db.client.connection.pending_requests',
    '{request}',
    'Requests waiting for a connection of the pool',
  );
  const operations = new PostgresOperations(database);
  const pool = { 'db.client.connection.pool.name': database.schemaName };
  meter.addBatchObservableCallback(
    async (observer) => {
      observer.observe(leases, leasesOf(database).held);
      const use = database.pool;
      if (use !== undefined) {
        observer.observe(connections, use.open - use.idle, { ...pool, 'db.client.connection.state': 'used' });
        observer.observe(connections, use.idle, { ...pool, 'db.client.connection.state': 'idle' });
        observer.observe(maxConnections, use.max, pool);
        observer.observe(pending, use.waiting, pool);
      }
      let status: Awaited<ReturnType<PostgresOperations['status']>>;
      try {
        status = await operations.status();
      } catch {
        return; // the database is down or frozen: /ready says so; a scrape leaves its figures out
      }
      for (const subscription of status.subscriptions) {
        const { projection, kind } = subscription;
        const attributes = { 'myelin.subscription': subscription.name };
        if (subscription.retrying > 0 || kind === 'handler')
          observer.observe(retries, subscription.retrying, attributes);
        if (subscription.parked > 0 || kind === 'handler')
          observer.observe(dead, subscription.parked, attributes);
        const ageSeconds = subscription.lagMs / 1000;
        if (projection !== undefined) {
          if (projection.state === 'retired') continue;
          const versionAttributes = {
            'myelin.projection': projection.name,
            'myelin.projection.version': projection.version,
            'myelin.projection.status': projection.state === 'serving' ? 'active' : 'building',
          };
          observer.observe(projectionLag, subscription.lagEvents, versionAttributes);
          observer.observe(projectionAge, ageSeconds, versionAttributes);
        } else if (kind === 'handler') {
          observer.observe(relayLag, subscription.lagEvents, attributes);
          observer.observe(relayAge, ageSeconds, attributes);
        } else if (kind === 'publisher') {
          observer.observe(backlog, subscription.lagEvents);
          observer.observe(backlogAge, ageSeconds);
        }
      }
    },
    [
      projectionLag,
      projectionAge,
      relayLag,
      relayAge,
      backlog,
      backlogAge,
      retries,
      dead,
      leases,
      connections,
      maxConnections,
      pending,
    ],
  );
}
