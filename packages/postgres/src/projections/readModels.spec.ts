import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '../database/database.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { sqlOf, tableWriter } from './readModels.ts';

type Row = { id: number; n?: number; note?: string; tag?: string };

describe.each(engines)('a table read model written in a batch on $name', (engine) => {
  let test: TestDatabase;
  let table: string;
  beforeAll(async () => {
    test = await engine.open();
    table = `${test.database.schema}.rows`;
    await test.database.exec(
      `CREATE TABLE ${table} (id integer PRIMARY KEY, n integer, note text NOT NULL DEFAULT 'none', tag text)`,
    );
  });
  afterAll(() => test.drop());

  /** Runs `batch` in a transaction with a writer of the table, counting the statements it sends. */
  async function inBatch(batch: (writer: ReturnType<typeof tableWriter<Row>>) => Promise<void>) {
    const sent: string[] = [];
    await test.database.transaction(async (sql) => {
      const counting: Sql = {
        query: (text, params, options) => {
          sent.push(text.trim().split(/\s+/)[0] as string);
          return sql.query(text, params, options);
        },
        exec: (text, options) => sql.exec(text, options),
      };
      const writer = tableWriter<Row>(counting, table, ['id']);
      await batch(writer);
      await writer.flush();
    });
    return sent;
  }
  const stored = async () =>
    (await test.database.query<Row>(`SELECT id, n, note, tag FROM ${table} ORDER BY id`)).rows;

  it('sends each row once, in a few statements, at the end of the batch', async () => {
    const sent = await inBatch(async (writer) => {
      for (let i = 1; i <= 100; i++) await writer.upsert({ id: i, n: 0 });
      for (let i = 1; i <= 100; i++) await writer.upsert({ id: i, n: i }); // the later write wins
    });
    // 100 rows: chunks of 64, 16, 16 and 4, nothing before the flush.
    expect(sent).toEqual(['INSERT', 'INSERT', 'INSERT', 'INSERT']);
    const rows = await stored();
    expect(rows).toHaveLength(100);
    expect(rows.every((row) => row.n === row.id && row.note === 'none')).toBe(true);
  });

  it('reads its own writes as the database makes them, and what was deleted as gone', async () => {
    await test.database.exec(
      `DELETE FROM ${table}; INSERT INTO ${table} VALUES (1, 1, 'one', 'a'), (2, 2, 'two', 'b')`,
    );
    const seen: unknown[] = [];
    const sent = await inBatch(async (writer) => {
      await writer.upsert({ id: 3, n: 3 }); // note left out: the table's default
      seen.push(await writer.get({ id: 3 })); // the write is sent, and the row read back
      await writer.upsert({ id: '3' as unknown as number, tag: 'c' }); // the same row, by an equal key
      await writer.delete({ id: 1 });
      seen.push(await writer.get({ id: 1 }));
      await writer.delete({ id: 2 });
      await writer.upsert({ id: 2, n: 20 }); // replaced: its note and tag are gone, not kept
      seen.push(await writer.get({ id: 4 }), await writer.get({ id: 4 })); // absent, asked once
      const [{ count }] = (await sqlOf(writer).query<{ count: number }>(
        `SELECT count(*)::integer AS count FROM ${sqlOf(writer).table} WHERE n IS NOT NULL`,
      )) as [{ count: number }];
      seen.push(count); // SQL of your own sees every write before it
    });
    expect(seen).toEqual([{ id: 3, n: 3, note: 'none', tag: null }, undefined, undefined, undefined, 2]);
    expect(await stored()).toEqual([
      { id: 2, n: 20, note: 'none', tag: null },
      { id: 3, n: 3, note: 'none', tag: 'c' },
    ]);
    expect(sent.filter((verb) => verb === 'SELECT')).toHaveLength(3); // row 3 read back, row 4 once, the count
  });

  it('reads a row again after SQL of its own, which may have changed it', async () => {
    await test.database.exec(`DELETE FROM ${table}; INSERT INTO ${table} VALUES (1, 10, 'one', 'a')`);
    await inBatch(async (writer) => {
      expect(await writer.get({ id: 1 })).toMatchObject({ n: 10 });
      await sqlOf(writer).query(`UPDATE ${sqlOf(writer).table} SET n = n + 5 WHERE id = 1`);
      await writer.update({ id: 1 }, (row) => ({ ...row, tag: 'b' })); // must not put the old n back
    });
    expect(await stored()).toEqual([{ id: 1, n: 15, note: 'one', tag: 'b' }]);
  });

  it('keeps the order of writes to keys the database may take for one row', async () => {
    const uuids = `${test.database.schema}.by_uuid`;
    await test.database.exec(`CREATE TABLE ${uuids} (id uuid PRIMARY KEY, n integer)`);
    const id = crypto.randomUUID();
    await test.database.transaction(async (sql) => {
      const writer = tableWriter<{ id: string; n?: number }>(sql, uuids, ['id']);
      await writer.upsert({ id: id.toUpperCase(), n: 1 });
      await writer.delete({ id }); // the same row, spelled in lower case: deleted after the upsert, as written
      await writer.upsert({ id: crypto.randomUUID(), n: 2 });
      await writer.flush();
    });
    const { rows } = await test.database.query<{ n: number }>(`SELECT n FROM ${uuids}`);
    expect(rows).toEqual([{ n: 2 }]);
  });

  it('names the key column an upsert leaves out', async () => {
    await inBatch(async (writer) => {
      await expect(writer.upsert({ n: 1 } as Row)).rejects.toThrow(
        "A row upserted must give its key: 'id' is undefined",
      );
    });
  });
});
