import { describe, expect, it } from 'vitest';
import { migrate } from '../migrations/migrate.ts';
import { engines } from '../testing/databases.ts';
import { postgresReadiness } from './readiness.ts';

async function outcomes(checks: ReturnType<typeof postgresReadiness>) {
  return Object.fromEntries(await Promise.all(checks.map(async (c) => [c.name, (await c.check()).ok])));
}

describe.each(engines)('readiness on $name', (engine) => {
  it('is ready once migrated, and not while a migration is missing or an active projection stalls', async () => {
    const { database, drop } = await engine.open({ migrated: false });
    try {
      const checks = postgresReadiness(database, { maxProjectionLagMs: 1000 });
      await migrate(database);
      expect(await outcomes(checks)).toEqual({ database: true, migrations: true, projections: true });

      // An active async projection with an event an hour old it has not applied: stalled.
      const s = database.schema;
      await database.query(
        `INSERT INTO ${s}.projections (name, version, mode, status, types) VALUES ('board', 1, 'async', 'active', '["x.happened"]')`,
      );
      await database.query(
        `INSERT INTO ${s}.events (event_id, stream_id, stream_version, type, type_version, data, occurred_at, correlation_id)
         VALUES ('e1', 's1', 1, 'x.happened', 1, '{}', now() - interval '1 hour', 'c')`,
      );
      const stalled = checks.find((c) => c.name === 'projections');
      expect(await stalled?.check()).toEqual({
        ok: false,
        detail: [expect.stringMatching(/^board v1: 1 events/)],
      });
      await database.query(`UPDATE ${s}.projections SET status = 'building'`);
      expect((await outcomes(checks)).projections).toBe(true); // catching up by design

      const { rows } = await database.query<{ v: number }>(
        `SELECT max(version)::int AS v FROM ${database.schema}.migrations WHERE sequence = 'myelin'`,
      );
      await database.query(
        `DELETE FROM ${database.schema}.migrations WHERE sequence = 'myelin' AND version = $1`,
        [rows[0]?.v],
      );
      expect((await outcomes(checks)).migrations).toBe(false);
      await migrate(database).catch(() => {}); // (re-applying the last step may fail on existing tables)
    } finally {
      await drop();
    }
  });
});
