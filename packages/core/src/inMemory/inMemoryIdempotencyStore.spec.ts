import { describe, expect, it } from 'vitest';
import { idempotencyStoreContract } from '../testing/idempotencyStoreContract.ts';
import { InMemoryIdempotencyStore } from './inMemoryIdempotencyStore.ts';

describe('the idempotency store contract in memory', () => {
  const subject = { store: new InMemoryIdempotencyStore() };
  for (const contract of idempotencyStoreContract()) it(contract.name, () => contract.run(subject));
});

describe('InMemoryIdempotencyStore, beyond the contract', () => {
  let now = 1_000_000;
  const store = () => new InMemoryIdempotencyStore(() => now);
  const at = (ms: number) => new Date(ms);

  it('replays a JSON copy of the completed response', async () => {
    const keys = store();
    const body = { id: 'n1', at: new Date(0), tags: ['a'] };
    await keys.claim('s', 'k', 'fp', at(now + 1000));
    await keys.complete('s', 'k', { status: 201, headers: { location: '/n1' }, body });
    body.tags.push('changed later');
    expect(await keys.claim('s', 'k', 'fp', at(now + 1000))).toEqual({
      state: 'done',
      fingerprint: 'fp',
      response: {
        status: 201,
        headers: { location: '/n1' },
        body: { id: 'n1', at: new Date(0).toJSON(), tags: ['a'] },
      },
    });
  });

  it('treats an expired record as absent', async () => {
    const keys = store();
    await keys.claim('s', 'pending', 'fp-1', at(now + 1000));
    await keys.claim('s', 'done', 'fp-1', at(now + 1000));
    await keys.complete('s', 'done', { status: 204, headers: {} });
    now += 1000;
    expect(await keys.claim('s', 'pending', 'fp-2', at(now + 1000))).toEqual({ state: 'claimed' });
    expect(await keys.claim('s', 'done', 'fp-2', at(now + 1000))).toEqual({ state: 'claimed' });
    expect(await keys.claim('s', 'done', 'fp-3', at(now + 1000))).toEqual({
      state: 'pending',
      fingerprint: 'fp-2',
    });
  });

  it('keeps an erasure for as long as a claim older than it is live, and not past the last of them', async () => {
    const keys = store();
    const done = { status: 200, headers: {} };
    await keys.claim('s', 'old', 'fp', at(now + 10_000));
    now += 1;
    keys.deleteFor('ada', undefined);
    // Later claims purge what expired and the erasures older than every live claim: not this one, since 'old' is
    // older than it and still pending.
    now += 1;
    await keys.claim('s', 'later', 'fp', at(now + 10_000));
    await keys.complete('s', 'old', done, ['ada']);
    expect(await keys.claim('s', 'old', 'fp', at(now + 10_000))).toEqual({ state: 'claimed' });
    // Every claim older than the erasure gone (the last expired), it no longer stands in the way of new answers.
    now += 20_000;
    await keys.claim('s', 'new', 'fp', at(now + 10_000));
    await keys.complete('s', 'new', done, ['ada']);
    expect(await keys.claim('s', 'new', 'fp', at(now + 10_000))).toEqual({
      state: 'done',
      fingerprint: 'fp',
      response: done,
    });
  });
});
