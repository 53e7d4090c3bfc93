import type { ReadinessCheck } from '@myelin/core';
import type { Database } from '../database/database.ts';
import { migrations } from '../migrations/migrations.ts';
import { projectionLag } from '../projections/projectionLag.ts';

export interface ReadinessOptions {
  /**
   * An active async projection whose oldest unprocessed event is older than this is stalled, and the process not
   * ready; defaults to 30 s. (A building version is catching up by design and does not count.)
   */
  readonly maxProjectionLagMs?: number;
}

/** One readiness check, in the shape `@myelin/http`'s `/ready` takes. */
/**
 * What `/ready` should check of the database: it answers, its migrations are all applied (a process running newer
 * code than its schema is not ready), and no active async projection is stalled beyond `maxProjectionLagMs`.
 * @example health: { checks: postgresReadiness(database) }
 */
export function postgresReadiness(
  database: Database,
  options: ReadinessOptions = {},
): readonly ReadinessCheck[] {
  const maxLagMs = options.maxProjectionLagMs ?? 30_000;
  const latest = Math.max(...migrations.map((m) => m.version));
  return [
    {
      name: 'database',
      async check() {
        await database.query('SELECT 1');
        return { ok: true };
      },
    },
    {
      name: 'migrations',
      async check() {
        const { rows } = await database.query<{ version: number | null }>(
          `SELECT max(version)::int AS version FROM ${database.schema}.migrations WHERE sequence = 'myelin'`,
        );
        const applied = rows[0]?.version ?? 0;
        return applied >= latest
          ? { ok: true, detail: { version: applied } }
          : {
              ok: false,
              detail: `schema at version ${applied}, this code needs ${latest}: run the migrations`,
            };
      },
    },
    {
      name: 'projections',
      async check() {
        const stalled = (await projectionLag(database)).filter(
          (p) => p.mode === 'async' && p.status === 'active' && p.oldestPendingAgeMs > maxLagMs,
        );
        return stalled.length === 0
          ? { ok: true }
          : {
              ok: false,
              detail: stalled.map(
                (p) =>
                  `${p.name} v${p.version}: ${p.pendingEvents} events, oldest ${p.oldestPendingAgeMs} ms`,
              ),
            };
      },
    },
  ];
}
