import { describe, expect, it } from 'vitest';
import type { Database } from '../database/database.ts';
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
      // Called in one turn of the event loop, all twenty share one transaction.
      expect(new Set(transactions).size).toBe(1);
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
        // Some with work of their own, some with only batched rows (a bus consumer's deliveries, mostly).
        return group.commit(k.endsWith('1') ? undefined : async () => k, batched);
      };
      expect(await Promise.all(['a0', 'a1', 'a2', 'a3'].map(insert))).toEqual(['a0', undefined, 'a2', 'a3']);
      // Called in one turn, the four share one statement.
      expect(calls).toEqual([['a0', 'a1', 'a2', 'a3']]);
      calls.length = 0;
      // A group with nothing but batched rows.
      expect(await Promise.all(['c1', 'd1'].map(insert))).toEqual([undefined, undefined]);
      expect(calls).toEqual([['c1', 'd1']]);
      calls.length = 0;
      const outcomes = await Promise.allSettled(['b0', 'b1', 'taken', 'b2'].map(insert));
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : 'failed'))).toEqual([
        'b0',
        undefined,
        'failed',
        'b2',
      ]);
      expect(calls[0]).toEqual(['b0', 'b1', 'taken', 'b2']);
      // Then each alone (concurrently, in any order), so only the duplicate fails.
      expect(calls.slice(1).map(String).sort()).toEqual(['b0', 'b1', 'b2', 'taken']);
      const { rows } = await database.query<{ k: string }>(`SELECT k FROM ${database.schema}.t ORDER BY k`);
      expect(rows.map((r) => r.k)).toEqual(['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'c1', 'd1', 'taken']);
    });
  });
});

describe('group commit, the overlap of groups', () => {
  /**
   * A database whose transactions run their work at once and then wait, at COMMIT, until the test lets them end:
   * what begins while another commits is seen, which a real database's COMMIT is too quick to show.
   */
  function heldCommits() {
    const events: string[] = [];
    const commits: ((failure?: Error) => void)[] = [];
    let next = 0;
    const database = {
      async transaction<T>(work: (sql: never) => Promise<T>): Promise<T> {
        const tx = next++;
        events.push(`begin ${tx}`);
        const result = await work(undefined as never);
        await new Promise<void>((resolve, reject) =>
          commits.push((failure) => (failure === undefined ? resolve() : reject(failure))),
        );
        events.push(`ended ${tx}`);
        return result;
      },
    } as unknown as Database;
    /** Resolves once `count` transactions wait at their COMMIT. */
    const held = async (count: number) => {
      while (commits.length < count) await new Promise((resolve) => setImmediate(resolve));
    };
    return {
      database,
      events,
      held,
      endOldest: () => commits.shift()?.(),
      failOldest: () => commits.shift()?.(new Error('could not serialize access')),
    };
  }

  it('begins the next group while one commits, and no third before the first ended', async () => {
    const { database, events, held, endOldest } = heldCommits();
    const group = new GroupCommit(database);
    const commit = (k: string) => group.commit(async () => k);
    const first = [commit('a'), commit('b')];
    await held(1); // group 0 has written, and commits
    const second = [commit('c'), commit('d')];
    await held(2); // group 1 began meanwhile, and commits too
    const third = commit('e');
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['begin 0', 'begin 1']); // e waits: two are open
    endOldest();
    expect(await Promise.all(first)).toEqual(['a', 'b']);
    await held(2); // group 0 ended: group 2 (e) began
    endOldest();
    endOldest();
    expect(await Promise.all([...second, third])).toEqual(['c', 'd', 'e']);
    expect(events).toEqual(['begin 0', 'begin 1', 'ended 0', 'begin 2', 'ended 1', 'ended 2']);
  });

  it('commits each member of a group whose COMMIT failed on its own, beside the group begun meanwhile', async () => {
    const { database, events, held, endOldest, failOldest } = heldCommits();
    const group = new GroupCommit(database);
    const commit = (k: string) => group.commit(async () => k);
    const first = [commit('a'), commit('b')];
    await held(1);
    const second = [commit('c')];
    await held(2); // group 1 (c) began while group 0 committed
    failOldest(); // group 0's COMMIT fails: a and b go again, each alone
    await held(3);
    for (let turn = 0; turn < 3; turn++) endOldest();
    expect(await Promise.all([...first, ...second])).toEqual(['a', 'b', 'c']);
    expect(events.filter((e) => e.startsWith('begin'))).toEqual(['begin 0', 'begin 1', 'begin 2', 'begin 3']);
    expect(events).not.toContain('ended 0');
  });
});
