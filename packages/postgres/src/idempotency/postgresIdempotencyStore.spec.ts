import type { StoredIdempotentResponse } from '@myelin/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { PostgresIdempotencyStore } from './postgresIdempotencyStore.ts';

const hour = () => new Date(Date.now() + 3_600_000);
// Fields out of jsonb's order: a replay must send the body as first sent (hence a json column, not jsonb).
const created: StoredIdempotentResponse = {
  status: 201,
  headers: { location: '/notes/n-1', 'myelin-position': '12.0' },
  body: { zeta: 1, id: 'n-1', alpha: [1, 'two', { nested: true }] },
};

describe.each(engines)('the idempotency store on $name', (engine) => {
  let test: TestDatabase;
  let store: PostgresIdempotencyStore;
  beforeAll(async () => {
    test = await engine.open();
    store = new PostgresIdempotencyStore(test.database);
  });
  afterAll(() => test.drop());

  it('gives a free key to the first claim and reports it pending to the next', async () => {
    expect(await store.claim('alice POST /notes', 'k-first', 'fp-1', hour())).toEqual({ state: 'claimed' });
    expect(await store.claim('alice POST /notes', 'k-first', 'fp-2', hour())).toEqual({
      state: 'pending',
      fingerprint: 'fp-1',
    });
    // The same key in another scope is another key.
    expect(await store.claim('bob POST /notes', 'k-first', 'fp-2', hour())).toEqual({ state: 'claimed' });
  });

  it('lets exactly one of concurrent claims of a free key win', async () => {
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.claim('s', 'k-race', `fp-${i}`, hour())),
    );
    const winners = claims.filter((claim) => claim.state === 'claimed');
    expect(winners).toHaveLength(1);
    const winner = claims.indexOf(winners[0] ?? { state: 'claimed' });
    // The others all see the winner's claim.
    expect(claims.filter((claim) => claim.state === 'pending')).toEqual(
      Array.from({ length: 9 }, () => ({ state: 'pending', fingerprint: `fp-${winner}` })),
    );
  });

  it('replays a completed response, as it was sent', async () => {
    await store.claim('s', 'k-done', 'fp', hour());
    await store.complete('s', 'k-done', created);
    const claim = await store.claim('s', 'k-done', 'fp', hour());
    expect(claim).toEqual({ state: 'done', fingerprint: 'fp', response: created });
    expect(claim.state === 'done' && JSON.stringify(claim.response.body)).toBe(JSON.stringify(created.body));
    // A response without a body comes back without one.
    await store.claim('s', 'k-empty', 'fp', hour());
    await store.complete('s', 'k-empty', { status: 204, headers: {} });
    expect(await store.claim('s', 'k-empty', 'fp', hour())).toEqual({
      state: 'done',
      fingerprint: 'fp',
      response: { status: 204, headers: {} },
    });
  });

  it('makes a released key claimable again, and never releases a completed one', async () => {
    await store.claim('s', 'k-release', 'fp-1', hour());
    await store.release('s', 'k-release');
    expect(await store.claim('s', 'k-release', 'fp-2', hour())).toEqual({ state: 'claimed' });
    await store.complete('s', 'k-release', created);
    await store.release('s', 'k-release');
    expect(await store.claim('s', 'k-release', 'fp-3', hour())).toMatchObject({ state: 'done' });
  });

  it('treats an expired record as absent, pending or done', async () => {
    await store.claim('s', 'k-expiring', 'fp-1', new Date(Date.now() + 300));
    expect(await store.claim('s', 'k-expiring', 'fp-2', hour())).toMatchObject({ state: 'pending' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await store.claim('s', 'k-expiring', 'fp-2', hour())).toEqual({ state: 'claimed' });

    await store.claim('s', 'k-expired', 'fp-1', new Date(Date.now() - 1000));
    await store.complete('s', 'k-expired', created);
    expect(await store.claim('s', 'k-expired', 'fp-2', hour())).toEqual({ state: 'claimed' });
    // The taker's claim is its own: pending, with its fingerprint.
    expect(await store.claim('s', 'k-expired', 'fp-3', hour())).toEqual({
      state: 'pending',
      fingerprint: 'fp-2',
    });
  });

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
