import { createApplication, event, eventHandler, unchecked } from '@myelin/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresPersistence } from '../postgresPersistence.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { relaySubscription } from './eventRelay.ts';
import { inboxLookup, inboxRecorder } from './inbox.ts';

const Paid = event('test.inbox.paid.v1', unchecked<{ n: number }>());

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

  it('writes a batch of one handler, and a batch of several, each entry under its own handler', async () => {
    const { database } = test;
    const record = inboxRecorder(database.schema);
    await record(database, [
      { consumer: 'relay:a:one', eventId: 'r-1' },
      { consumer: 'relay:a:one', eventId: 'r-2' },
    ]);
    await record(database, [
      { consumer: 'relay:a:one', eventId: 'r-3' },
      { consumer: 'relay:a:two', eventId: 'r-3' },
      { consumer: 'relay:a:one', eventId: 'r-4' },
    ]);
    const { rows } = await database.query<{ consumer: string; event_id: string }>(
      `SELECT consumer, event_id FROM ${database.schema}.inbox WHERE event_id LIKE 'r-%' ORDER BY 1, 2`,
    );
    expect(rows).toEqual([
      { consumer: 'relay:a:one', event_id: 'r-1' },
      { consumer: 'relay:a:one', event_id: 'r-2' },
      { consumer: 'relay:a:one', event_id: 'r-3' },
      { consumer: 'relay:a:one', event_id: 'r-4' },
      { consumer: 'relay:a:two', event_id: 'r-3' },
    ]);
  });

  it('lets one of several racing deliveries of an event commit, and fails the others on the inbox', async () => {
    const app = await createApplication()
      .include(postgresPersistence(test.database))
      .handle(eventHandler({ name: 'race', idempotent: true }, Paid, () => {}))
      .build();
    try {
      // All look the id up before any commits, so all run; their commits meet in one group, which fails on the
      // inbox's key, and then each commits alone.
      const outcomes = await Promise.allSettled(
        [1, 2, 3].map(() => app.mediator.publish(new Paid({ n: 9 }), { eventId: 'raced' })),
      );
      expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected', 'rejected']);
      const { rows } = await test.database.query(
        `SELECT consumer FROM ${test.database.schema}.inbox WHERE event_id = 'raced'`,
      );
      expect(rows).toEqual([{ consumer: relaySubscription(Paid.type, 'race') }]);
      // Delivered again, it is skipped, and succeeds.
      await app.mediator.publish(new Paid({ n: 9 }), { eventId: 'raced' });
    } finally {
      await app.dispose();
    }
  });

  it('records the deliveries of several handlers delivered at once, each under its own name, and skips them all the second time', async () => {
    const effects: string[] = [];
    const handlers = ['bill', 'thank'].map((name) =>
      eventHandler({ name, idempotent: true }, Paid, (e) => void effects.push(`${name} ${e.n}`)),
    );
    // The database, counting the transactions it begins.
    let transactions = 0;
    const database = new Proxy(test.database, {
      get(target, key) {
        if (key === 'transaction') {
          return (...args: Parameters<typeof target.transaction>) => {
            transactions++;
            return target.transaction(...args);
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const app = await createApplication()
      .include(postgresPersistence(database))
      .handle(...handlers)
      .build();
    try {
      // Delivered at once, as a bus consumer's deliveries are: their commits are grouped.
      const deliver = () =>
        Promise.all(
          [1, 2].map((n) => app.mediator.publish(new Paid({ n }), { eventId: `paid-${n}`, parallel: true })),
        );
      transactions = 0;
      await deliver();
      expect(effects.sort()).toEqual(['bill 1', 'bill 2', 'thank 1', 'thank 2']);
      // A group each, or one for both handlers (their look-ups may answer in different turns): never a group
      // that failed, then each of its commits alone.
      expect(transactions).toBeLessThanOrEqual(2);
      const { rows } = await test.database.query<{ consumer: string; event_id: string }>(
        `SELECT consumer, event_id FROM ${test.database.schema}.inbox WHERE event_id LIKE 'paid-%' ORDER BY 1, 2`,
      );
      const bill = relaySubscription(Paid.type, 'bill');
      const thank = relaySubscription(Paid.type, 'thank');
      expect(rows).toEqual([
        { consumer: bill, event_id: 'paid-1' },
        { consumer: bill, event_id: 'paid-2' },
        { consumer: thank, event_id: 'paid-1' },
        { consumer: thank, event_id: 'paid-2' },
      ]);
      await deliver();
      expect(effects).toHaveLength(4);
    } finally {
      await app.dispose();
    }
  });

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
