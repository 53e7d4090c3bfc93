import { localMasterKey, newMasterKey } from '@myelin/core';
import { idempotencyStoreContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Protection } from '../personalData/protection.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { PostgresIdempotencyStore } from './postgresIdempotencyStore.ts';

const hour = () => new Date(Date.now() + 3_600_000);

describe.each(engines)('the idempotency store on $name', (engine) => {
  let test: TestDatabase;
  let store: PostgresIdempotencyStore;
  beforeAll(async () => {
    test = await engine.open();
    store = new PostgresIdempotencyStore(test.database);
  });
  afterAll(() => test.drop());

  for (const contract of idempotencyStoreContract()) it(contract.name, () => contract.run({ store }));

  it('deletes expired records as claims arrive', async () => {
    const purging = new PostgresIdempotencyStore(test.database, { purgeIntervalMs: 0 });
    await purging.claim('s', 'k-old', 'fp', new Date(Date.now() - 1000));
    await purging.claim('s', 'k-other', 'fp', hour());
    const { rows } = await test.database.query(
      `SELECT key FROM ${test.database.schema}.idempotency_keys WHERE scope = 's' AND key IN ('k-old', 'k-other')`,
    );
    expect(rows).toEqual([{ key: 'k-other' }]);
  });
});

// Two sessions at once: PGlite has one, on which an erasure and an answer take turns.
describe('the idempotency store on postgres, beside an erasure still open', () => {
  let test: TestDatabase;
  let store: PostgresIdempotencyStore;
  let protection: Protection;
  const answer = { status: 201, headers: {}, body: { name: 'Peach' } };
  beforeAll(async () => {
    test = await (engines.find((engine) => engine.name === 'postgres') as (typeof engines)[number]).open();
    store = new PostgresIdempotencyStore(test.database);
    protection = new Protection(test.database, { masterKey: localMasterKey(newMasterKey(), 'k1') });
  });
  afterAll(() => test.drop());

  /** A data key for `subject` (its content does not matter: the erasure deletes it unread). */
  const keyFor = (subject: string) =>
    test.database.query(
      `INSERT INTO ${test.database.schema}.personal_keys (id, subject, wrapped, master_key) VALUES ($1, $1, 'w', 'k1')`,
      [subject],
    );

  /** Forgets `subject` in a transaction that stays open until the returned `commit` is called. */
  async function openErasure(subject: string) {
    let commit = () => {};
    const committing = new Promise<void>((resolve) => {
      commit = resolve;
    });
    let erased = () => {};
    const forgotten = new Promise<void>((resolve) => {
      erased = resolve;
    });
    const done = test.database.transaction(async (sql) => {
      await protection.forget(sql, subject, { requestedBy: 'test' }, []);
      erased();
      await committing;
    });
    await forgotten;
    return {
      commit: async () => {
        commit();
        await done;
      },
    };
  }

  it('does not keep an answer completed while an erasure of its subject is open: it waits, and drops it', async () => {
    await keyFor('peach');
    await store.claim('s', 'open', 'f', hour());
    const erasure = await openErasure('peach');
    const completing = store.complete('s', 'open', answer, ['peach']).then(() => 'kept or dropped');
    const blocked = eventually(async () => {
      const { rows } = await test.database.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
        [`%${test.database.schema}.personal_keys%FOR KEY SHARE%`],
      );
      return rows.length > 0;
    }, 'the answer waiting for the erasure').then(() => 'waiting');
    expect(await Promise.race([completing, blocked])).toBe('waiting');
    await erasure.commit();
    await completing;
    expect(await store.claim('s', 'open', 'f', hour())).toEqual({ state: 'claimed' });
  });

  it('drops an answer whose subject’s erasure was written before the claim and committed after it', async () => {
    await keyFor('daisy');
    const erasure = await openErasure('daisy');
    await store.claim('s', 'late', 'f', hour());
    await erasure.commit();
    await store.complete('s', 'late', answer, ['daisy']);
    expect(await store.claim('s', 'late', 'f', hour())).toEqual({ state: 'claimed' });
  });

  it('keeps an answer whose subject was forgotten before, and has a key again', async () => {
    await keyFor('rosalina');
    await (await openErasure('rosalina')).commit();
    await keyFor('rosalina');
    await store.claim('s', 'again', 'f', hour());
    await store.complete('s', 'again', answer, ['rosalina']);
    expect(await store.claim('s', 'again', 'f', hour())).toMatchObject({ state: 'done', response: answer });
  });
});
