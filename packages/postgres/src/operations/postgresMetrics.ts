// What an operator watches, as OpenTelemetry metrics read from the database when they are collected (a scrape):
// how far behind each projection is, and how many events wait as dead letters.
import { type Meter, metrics } from '@opentelemetry/api';
import type { Database } from '../database/database.ts';
import { projectionLag } from '../projections/projectionLag.ts';

export interface PostgresMetricsOptions {
  /** Defaults to the global meter provider's meter named `@myelin/postgres`. */
  readonly meter?: Meter;
}

/**
 * Observes, at each collection:
 * - `myelin.projection.lag` (`{event}`): events of a projection version's types after its checkpoint;
 * - `myelin.projection.lag.age` (`s`): how long ago the oldest of them occurred;
 * - `myelin.dead_letters` (`{event}`): events parked by each relay subscription after their last attempt.
 * Each collection reads the database (two queries); when it cannot, that collection reports nothing.
 * Call it once per process, after registering a meter provider.
 * @example postgresMetrics(database);
 */
export function postgresMetrics(database: Database, options: PostgresMetricsOptions = {}): void {
  const meter = options.meter ?? metrics.getMeter('@myelin/postgres');
  const lag = meter.createObservableGauge('myelin.projection.lag', {
    unit: '{event}',
    description: "Events of a projection version's types after its checkpoint",
  });
  const age = meter.createObservableGauge('myelin.projection.lag.age', {
    unit: 's',
    description: 'How long ago the oldest event a projection version has yet to apply occurred',
  });
  const dead = meter.createObservableGauge('myelin.dead_letters', {
    unit: '{event}',
    description: 'Events a relay subscription parked after its last attempt, waiting to be replayed',
  });
  meter.addBatchObservableCallback(
    async (observer) => {
      try {
        for (const projection of await projectionLag(database)) {
          const attributes = {
            'myelin.projection': projection.name,
            'myelin.projection.version': projection.version,
            'myelin.projection.status': projection.status,
          };
          observer.observe(lag, projection.pendingEvents, attributes);
          observer.observe(age, projection.oldestPendingAgeMs / 1000, attributes);
        }
        const { rows } = await database.query<{ subscription: string; parked: number }>(
          `SELECT subscription, count(*)::int AS parked FROM ${database.schema}.held_events
           WHERE status = 'parked' GROUP BY subscription`,
        );
        for (const row of rows)
          observer.observe(dead, row.parked, { 'myelin.subscription': row.subscription });
      } catch {
        // The database is down or frozen: /ready says so; a scrape reports nothing rather than failing.
      }
    },
    [lag, age, dead],
  );
}
