import { describe, expect, it } from 'vitest';
import { InMemoryIdempotencyStore } from './inMemoryIdempotencyStore.ts';

describe('InMemoryIdempotencyStore', () => {
  let now = 1_000_000;
  const store = () => new InMemoryIdempotencyStore(() => now);
  const at = (ms: number) => new Date(ms);

  it('gives a free key to the first claim only, per scope', async () => {
    const keys = store();
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) => keys.claim('s', 'k', `fp-${i}`, at(now + 1000))),
    );
    expect(claims[0]).toEqual({ state: 'claimed' });
    expect(claims.slice(1)).toEqual(
      Array.from({ length: 9 }, () => ({ state: 'pending', fingerprint: 'fp-0' })),
    );
    expect(await keys.claim('other scope', 'k', 'fp', at(now + 1000))).toEqual({ state: 'claimed' });
  });

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

  it('frees a released claim, and never a completed one', async () => {
    const keys = store();
    await keys.claim('s', 'k', 'fp-1', at(now + 1000));
    await keys.release('s', 'k');
    expect(await keys.claim('s', 'k', 'fp-2', at(now + 1000))).toEqual({ state: 'claimed' });
    await keys.complete('s', 'k', { status: 204, headers: {} });
    await keys.release('s', 'k');
    expect(await keys.claim('s', 'k', 'fp-3', at(now + 1000))).toMatchObject({
      state: 'done',
      fingerprint: 'fp-2',
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
