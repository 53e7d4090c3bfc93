import { describe, expect, it } from 'vitest';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { migrate } from '../migrations/migrate.ts';
import { postgresUrl, testSchema } from '../testing/databases.ts';
import { crashCycles } from '../testing/ledgerCycles.ts';

describe('a process running commands, the relay and an async projection, killed at random moments', () => {
  it('20 times: after each restart and catch-up, the read models equal the fold of the whole log, nothing held', {
    timeout: 120_000,
  }, async () => {
    const schema = testSchema();
    const database = postgresDatabase({ connectionString: postgresUrl, schema });
    try {
      await migrate(database);
      const reports = await crashCycles(database, postgresUrl, 20);
      expect(reports.filter((r) => r.mismatches.length > 0 || r.held > 0)).toEqual([]);
      // Deposits kept coming in from cycle to cycle: every cycle had something to lose.
      const deposits = reports.map((r) => r.deposits);
      expect(deposits.every((n, i) => i === 0 || n > (deposits[i - 1] as number))).toBe(true);
    } finally {
      await database.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await database.close();
    }
  });
});
