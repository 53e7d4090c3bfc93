import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { inboxLookup } from './inbox.ts';

interface PlanNode {
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly 'Actual Rows': number;
  readonly 'Actual Loops': number;
  readonly 'Rows Removed by Filter'?: number;
  readonly 'Rows Removed by Index Recheck'?: number;
  readonly Plans?: readonly PlanNode[];
}

/** The inbox rows each node of an executed plan read: what it returned, and what it read and threw away. */
function inboxRowsRead(node: PlanNode): number {
  const own =
    node['Relation Name'] === 'inbox' || node['Index Name']?.startsWith('inbox') === true
      ? node['Actual Rows'] * node['Actual Loops'] +
        (node['Rows Removed by Filter'] ?? 0) +
        (node['Rows Removed by Index Recheck'] ?? 0)
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + inboxRowsRead(child), 0);
}

describe.each(engines)('the inbox on $name', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open();
  });
  afterAll(() => test.drop());

  it('looks up a batch of event ids one index probe each, reading no other row, however large the inbox grew since it was analyzed', async () => {
    const s = test.database.schema;
    const consumer = 'relay:test.placed.v1:cook';
    const asked = Array.from({ length: 50 }, (_, i) => `e-${i * 7}`); // every 7th of the first 350 is handled
    // In one transaction, rolled back: no statistics can describe rows that were never committed, as when a
    // consumer catches up faster than autovacuum analyzes its inbox.
    await test.database
      .transaction(async (sql) => {
        await sql.query(
          `INSERT INTO ${s}.inbox (consumer, event_id) SELECT $1, 'e-' || g FROM generate_series(0, 4999) g`,
          [consumer],
        );
        const { rows } = await sql.query<{ event_id: string }>(inboxLookup(s), [consumer, asked]);
        expect(rows.map((row) => row.event_id).sort()).toEqual([...asked].sort());
        const unknown = asked.map((id) => `${id}-new`);
        expect((await sql.query(inboxLookup(s), [consumer, unknown])).rows).toEqual([]);
        // Ids it does not hold: the lookup must find that out without reading any row of the 5,000.
        const { rows: plan } = await sql.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${inboxLookup(s)}`,
          [consumer, unknown],
        );
        const read = inboxRowsRead((plan[0] as { 'QUERY PLAN': [{ Plan: PlanNode }] })['QUERY PLAN'][0].Plan);
        expect(read).toBe(0);
        throw new Rollback();
      })
      .catch((error: unknown) => {
        if (!(error instanceof Rollback)) throw error;
      });
  });
});

class Rollback extends Error {}
