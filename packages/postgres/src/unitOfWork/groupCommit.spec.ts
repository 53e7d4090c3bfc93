import { describe, expect, it } from 'vitest';
import { engines } from '../testing/databases.ts';
import { BatchedWrites } from './batchedWrites.ts';
import { GroupCommit } from './groupCommit.ts';

describe.each(engines)('group commit on $name', (engine) => {
  async function withTable(test: (db: Awaited<ReturnType<typeof engine.open>>['database']) => Promise<void>) {
    const { database, drop } = await engine.open({ migrated: false });
    try {
      await database.exec(
        `CREATE SCHEMA ${database.schema}; CREATE TABLE ${database.schema}.t (k text PRIMARY KEY)`,
      );
      await test(database);
    } finally {
      await drop();
    }
  }

  it('commits concurrent participants together, each in one transaction of several', async () => {
    await withTable(async (database) => {
      const group = new GroupCommit(database);
      const transactions = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          group.commit(async (sql) => {
            await sql.query(`INSERT INTO ${database.schema}.t (k) VALUES ($1)`, [`k${i}`]);
            const { rows } = await sql.query<{ tx: string }>('SELECT pg_current_xact_id()::text AS tx');
            return rows[0]?.tx;
          }),
        ),
      );
      const { rows } = await database.query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM ${database.schema}.t`,
      );
      expect(rows[0]?.n).toBe(20);
      // The first arrives alone; the 19 that waited for it share the next transaction.
      expect(new Set(transactions).size).toBe(2);
    });
  });

  it('fails only the participant that failed, and commits the others', async () => {
    await withTable(async (database) => {
      await database.query(`INSERT INTO ${database.schema}.t (k) VALUES ('taken')`);
      const group = new GroupCommit(database);
      const insert = (k: string) =>
        group.commit(async (sql) => {
          await sql.query(`INSERT INTO ${database.schema}.t (k) VALUES ($1)`, [k]);
          return k;
        });
      const outcomes = await Promise.allSettled([insert('first'), insert('a'), insert('taken'), insert('b')]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(String((outcomes[2] as PromiseRejectedResult).reason)).toMatch(/duplicate key/);
      const { rows } = await database.query<{ k: string }>(`SELECT k FROM ${database.schema}.t ORDER BY k`);
      expect(rows.map((r) => r.k)).toEqual(['a', 'b', 'first', 'taken']);
    });
  });

  it('writes the batched rows of a group in one call, and each alone when the group fails', async () => {
    await withTable(async (database) => {
      await database.query(`INSERT INTO ${database.schema}.t (k) VALUES ('taken')`);
      const group = new GroupCommit(database);
      const calls: string[][] = [];
      const insert = (k: string) => {
        const batched = new BatchedWrites();
        batched.add('t', k, async (sql, keys) => {
          calls.push([...keys]);
          await sql.query(`INSERT INTO ${database.schema}.t (k) SELECT unnest($1::text[])`, [keys]);
        });
        return group.commit(async () => k, batched);
      };
      await Promise.all(['a0', 'a1', 'a2', 'a3'].map(insert));
      // The first commits alone; the three that waited for it share one statement.
      expect(calls).toEqual([['a0'], ['a1', 'a2', 'a3']]);
      calls.length = 0;
      const outcomes = await Promise.allSettled(['b0', 'b1', 'taken', 'b2'].map(insert));
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(calls.slice(0, 2)).toEqual([['b0'], ['b1', 'taken', 'b2']]);
      // Then each alone (concurrently, in any order), so only the duplicate fails.
      expect(calls.slice(2).map(String).sort()).toEqual(['b1', 'b2', 'taken']);
      const { rows } = await database.query<{ k: string }>(`SELECT k FROM ${database.schema}.t ORDER BY k`);
      expect(rows.map((r) => r.k)).toEqual(['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'taken']);
    });
  });
});
