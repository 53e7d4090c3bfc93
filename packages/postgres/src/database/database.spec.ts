import { describe, expect, it } from 'vitest';
import { engines } from '../testing/databases.ts';
import type { Sql } from './database.ts';

describe.each(engines)('transactions on $name', (engine) => {
  it('commit without waiting for the disk only when asked, and only for that transaction', async () => {
    const { database, drop } = await engine.open({ migrated: false });
    try {
      const setting = async (sql: Sql) =>
        (await sql.query<{ value: string }>("SELECT current_setting('synchronous_commit') AS value")).rows[0]
          ?.value;
      const inside = await database.transaction(setting, {
        synchronousCommit: false,
      });
      expect(inside).toBe('off');
      expect(await database.transaction(setting)).toBe('on');
      expect(await setting(database)).toBe('on');
      // A failing transaction rolls back as any other.
      await database.exec(`CREATE SCHEMA IF NOT EXISTS ${database.schema}`);
      await database.exec(`CREATE TABLE ${database.schema}.t (k text PRIMARY KEY)`);
      await expect(
        database.transaction(
          async (sql) => {
            await sql.query(`INSERT INTO ${database.schema}.t VALUES ('a')`);
            throw new Error('no');
          },
          { synchronousCommit: false },
        ),
      ).rejects.toThrow('no');
      expect((await database.query(`SELECT FROM ${database.schema}.t`)).rows).toHaveLength(0);
    } finally {
      await drop();
    }
  });
});
