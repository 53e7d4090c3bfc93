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
});
