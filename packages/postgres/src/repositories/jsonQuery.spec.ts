import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { findJson, type JsonSource } from './jsonQuery.ts';

describe.each(engines)('findJson on $name', (engine) => {
  let test: TestDatabase;
  let source: JsonSource;
  beforeAll(async () => {
    test = await engine.open({ migrated: false });
    const { schema } = test.database;
    await test.database.exec(`CREATE SCHEMA IF NOT EXISTS ${schema};
      CREATE TABLE ${schema}.items (id text PRIMARY KEY, doc jsonb NOT NULL)`);
    source = {
      table: `${schema}.items`,
      column: 'doc',
      select: 'id, doc',
      scope: 'true',
      scopeParams: [],
      key: 'id',
    };
  });
  afterAll(() => test.drop());

  it('answers the total with a page past the end, and no rows', async () => {
    const { schema } = test.database;
    await test.database.query(`INSERT INTO ${schema}.items VALUES ('a', '{"n": 1}'), ('b', '{"n": 2}')`);
    const page = await findJson<{ id: string }>(test.database, source, { page: 3, pageSize: 1 });
    expect(page).toEqual({ rows: [], total: 2, page: 3, pageSize: 1 });
    const first = await findJson<{ id: string; doc: unknown }>(test.database, source, {
      pageSize: 1,
      sort: [{ field: 'n', direction: 'desc' }],
    });
    expect(first).toEqual({ rows: [{ id: 'b', doc: { n: 2 } }], total: 2, page: 1, pageSize: 1 });
  });

  it('never answers a page that disagrees with its total while rows are being inserted', async () => {
    const { schema } = test.database;
    let inserting = true;
    const inserts = (async () => {
      for (let i = 0; inserting && i < 2000; i++) {
        await test.database.query(`INSERT INTO ${schema}.items VALUES ($1, '{"n": 0}')`, [`x${i}`]);
      }
    })();
    const disagreements: string[] = [];
    for (let i = 0; i < 150; i++) {
      const page = await findJson<{ id: string }>(test.database, source, { where: { n: 0 }, pageSize: 5000 });
      if (page.rows.length !== page.total)
        disagreements.push(`${page.rows.length} rows, total ${page.total}`);
    }
    inserting = false;
    await inserts;
    expect(disagreements).toEqual([]);
  });
});
