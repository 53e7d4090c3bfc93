import { localMasterKey, newMasterKey, principalScope } from '@myelin/core';
import { idempotencyStoreContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Protection } from '../personalData/protection.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { PostgresIdempotencyStore, subjectLock } from './postgresIdempotencyStore.ts';

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

  it('keeps an answer naming a subject forgotten before the claim, who has no key since, and replays it', async () => {
    // The command could not read their data: it ran after the erasure had committed.
    const protection = new Protection(test.database, { masterKey: localMasterKey(newMasterKey(), 'k1') });
    await test.database.transaction((sql) => protection.forget(sql, 'toad', { requestedBy: 'test' }, []));
    await store.claim('s', 'long-after', 'f', hour());
    const answer = { status: 200, headers: {}, body: { order: 'o-1' } };
    await store.complete('s', 'long-after', answer, ['toad']);
    expect(await store.claim('s', 'long-after', 'f', hour())).toEqual({
      state: 'done',
      fingerprint: 'f',
      response: answer,
    });
    // A record claimed before the claim's snapshot was kept (an older version's) keeps the old rule: dropped.
    await store.claim('s', 'older', 'f', hour());
    await test.database.query(
      `UPDATE ${test.database.schema}.idempotency_keys SET claim_snapshot = NULL WHERE key = 'older'`,
    );
    await store.complete('s', 'older', answer, ['toad']);
    expect(await store.claim('s', 'older', 'f', hour())).toEqual({ state: 'claimed' });
  });

  it('never leaves a key pending when keeping its answer fails: the claim is released, so a repeat runs again', async () => {
    // A body JSON cannot hold fails every time: tried twice, then released.
    const unkeepable = { status: 200, headers: {}, body: { n: 1n } };
    for (const subjects of [[], ['peach']]) {
      const key = `unkeepable-${subjects.length}`;
      await store.claim('s', key, 'f', hour());
      await expect(store.complete('s', key, unkeepable, subjects)).rejects.toThrow(TypeError);
      expect(await store.claim('s', key, 'f', hour())).toEqual({ state: 'claimed' });
    }
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

  /**
   * A transaction that forgets `first`, then waits for `next()` before forgetting `then` (several subjects forgotten
   * in one transaction, in the caller's order) and committing; `first` with `principal` forgets their own answers too.
   */
  async function twoErasures(first: string, then: string, principal?: string) {
    let go = () => {};
    const going = new Promise<void>((resolve) => {
      go = resolve;
    });
    let started = () => {};
    const halfway = new Promise<void>((resolve) => {
      started = resolve;
    });
    const done = test.database.transaction(async (sql) => {
      await protection.forget(
        sql,
        first,
        { requestedBy: 'test', ...(principal === undefined ? {} : { principal }) },
        [],
      );
      started();
      await going;
      await protection.forget(sql, then, { requestedBy: 'test' }, []);
    });
    await Promise.race([halfway, done]);
    return {
      next: async () => {
        go();
        await done;
      },
    };
  }

  /** How many sessions hold (`granted`) or wait for `subject`'s advisory lock (see `subjectLock`) in `mode`. */
  async function subjectLocks(subject: string, mode: 'ShareLock' | 'ExclusiveLock', granted: boolean) {
    const { rows } = await test.database.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks AS l, (SELECT hashtextextended($1, 0) AS h) AS x
       WHERE l.locktype = 'advisory' AND l.mode = $2 AND l.granted = $3 AND l.objsubid = 1
         AND l.classid::bigint = (x.h >> 32) & 4294967295 AND l.objid::bigint = x.h & 4294967295`,
      [subjectLock(test.database, subject), mode, granted],
    );
    return rows[0]?.n ?? 0;
  }

  it('does not keep an answer completed while an erasure of its subject is open: it waits, and drops it', async () => {
    await keyFor('peach');
    await store.claim('s', 'open', 'f', hour());
    const erasure = await openErasure('peach');
    const completing = store.complete('s', 'open', answer, ['peach']).then(() => 'kept or dropped');
    const blocked = eventually(
      async () => (await subjectLocks('peach', 'ShareLock', false)) > 0,
      'the answer waiting for the erasure',
    ).then(() => 'waiting');
    expect(await Promise.race([completing, blocked])).toBe('waiting');
    await erasure.commit();
    await completing;
    expect(await store.claim('s', 'open', 'f', hour())).toEqual({ state: 'claimed' });
  });

  /** The answers the subject's latest erasure reached. */
  const responsesOf = async (subject: string) =>
    (
      await test.database.query<{ responses: number }>(
        `SELECT responses FROM ${test.database.schema}.erasures WHERE subject = $1 ORDER BY id DESC LIMIT 1`,
        [subject],
      )
    ).rows[0]?.responses;

  it('drops an answer whose subject’s erasure was written before the claim and committed after it, and counts it', async () => {
    await keyFor('daisy');
    const erasure = await openErasure('daisy');
    await store.claim('s', 'late', 'f', hour());
    await erasure.commit();
    expect(await responsesOf('daisy')).toBe(0);
    await store.complete('s', 'late', answer, ['daisy']);
    expect(await store.claim('s', 'late', 'f', hour())).toEqual({ state: 'claimed' });
    expect(await responsesOf('daisy')).toBe(1);
  });

  it('keeps an answer whose subject was forgotten before, and has a key again', async () => {
    await keyFor('rosalina');
    await (await openErasure('rosalina')).commit();
    await keyFor('rosalina');
    await store.claim('s', 'again', 'f', hour());
    await store.complete('s', 'again', answer, ['rosalina']);
    expect(await store.claim('s', 'again', 'f', hour())).toMatchObject({ state: 'done', response: answer });
  });

  it('does not keep an answer naming a subject who has no key, while their erasure is open: it waits, and drops it', async () => {
    // Named by the handler but never sealed: no key row to lock, the subject's own lock stands for them.
    for (const [key, claimFirst] of [
      ['keyless-after', true],
      ['keyless-before', false],
    ] as const) {
      const subject = `toad-${key}`;
      if (claimFirst) await store.claim('s', key, 'f', hour());
      const erasure = await openErasure(subject);
      if (!claimFirst) await store.claim('s', key, 'f', hour());
      const completing = store.complete('s', key, answer, [subject]).then(() => 'kept or dropped');
      const blocked = eventually(
        async () => (await subjectLocks(subject, 'ShareLock', false)) > 0,
        'the answer waiting for the erasure',
      ).then(() => 'waiting');
      expect(await Promise.race([completing, blocked])).toBe('waiting');
      await erasure.commit();
      await completing;
      expect(await store.claim('s', key, 'f', hour())).toEqual({ state: 'claimed' });
    }
  });

  it('never deadlocks with an erasure of several subjects taken in the other order, nor leaves the key pending', async () => {
    await keyFor('luigi');
    await keyFor('mario');
    await store.claim('s', 'pair', 'f', hour());
    // The erasure holds mario; the answer, naming luigi and mario (luigi first in any sorted order), is kept next.
    const erasure = await twoErasures('mario', 'luigi');
    const completing = store.complete('s', 'pair', answer, ['mario', 'luigi']);
    await eventually(
      async () => (await subjectLocks('mario', 'ShareLock', false)) > 0,
      'the answer waiting for mario’s erasure',
    );
    // Waiting, it holds nothing of luigi's: the erasure takes luigi next without waiting for it.
    expect(await subjectLocks('luigi', 'ShareLock', true)).toBe(0);
    await erasure.next();
    await completing;
    expect(await store.claim('s', 'pair', 'f', hour())).toEqual({ state: 'claimed' });
  });

  it('never deadlocks with an erasure that deletes the pending record (the principal’s own) and then another subject', async () => {
    await keyFor('waluigi');
    const scope = `${principalScope('wario')}POST /orders`;
    await store.claim(scope, 'own', 'f', hour());
    // The erasure of wario deletes their pending record, and holds its row until it commits, after forgetting waluigi.
    const erasure = await twoErasures('wario', 'waluigi', 'wario');
    const completing = store.complete(scope, 'own', answer, ['waluigi']);
    await eventually(async () => {
      const { rows } = await test.database.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
        [`%${test.database.schema}.idempotency_keys%FOR UPDATE%`],
      );
      return rows.length > 0;
    }, 'the answer waiting for its record’s row');
    expect(await subjectLocks('waluigi', 'ShareLock', true)).toBe(0);
    await erasure.next();
    await completing;
    expect(await store.claim(scope, 'own', 'f', hour())).toEqual({ state: 'claimed' });
  });

  it('under erasures of several subjects in any order and answers naming them in others, none fails or stays pending', async () => {
    const subjects = ['bowser', 'koopa', 'goomba', 'boo'];
    const shuffled = (list: readonly string[]) =>
      list
        .map((subject) => ({ subject, at: Math.random() }))
        .sort((a, b) => a.at - b.at)
        .map(({ subject }) => subject);
    for (let round = 0; round < 20; round++) {
      await test.database.query(
        `INSERT INTO ${test.database.schema}.personal_keys (id, subject, wrapped, master_key)
         SELECT subject, subject, 'w', 'k1' FROM unnest($1::text[]) AS subject ON CONFLICT DO NOTHING`,
        [subjects],
      );
      const keys = Array.from({ length: 6 }, (_, i) => `mixed-${round}-${i}`);
      for (const key of keys) await store.claim('mixed', key, 'f', hour());
      const forgotten = shuffled(subjects).slice(0, 3);
      await Promise.all([
        test.database.transaction(async (sql) => {
          for (const subject of forgotten) await protection.forget(sql, subject, { requestedBy: 'test' }, []);
        }),
        ...keys.map((key) => store.complete('mixed', key, answer, shuffled(subjects).slice(0, 3))),
      ]);
    }
    const { rows } = await test.database.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM ${test.database.schema}.idempotency_keys WHERE scope = 'mixed'
       GROUP BY status`,
    );
    expect(rows.filter((row) => row.status === 'pending')).toEqual([]);
  });
});
