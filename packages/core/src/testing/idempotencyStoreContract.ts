import type { IdempotencyStore, StoredIdempotentResponse } from '../persistence/idempotencyStore.ts';
import { type ContractCase, expectEqual, uniqueName } from './contract.ts';

/** What the idempotency contract runs against: a store, fresh or shared (every case uses keys of its own). */
export interface IdempotencyStoreUnderTest {
  readonly store: IdempotencyStore;
}

const inAnHour = () => new Date(Date.now() + 3_600_000);
// Fields out of alphabetical order: a replay must send the body as first sent.
const created: StoredIdempotentResponse = {
  status: 201,
  headers: { location: '/notes/n-1', 'myelin-position': '12.0' },
  body: { zeta: 1, id: 'n-1', alpha: [1, 'two', { nested: true }] },
};

/**
 * What every {@link IdempotencyStore} must do, as a list of cases any test runner can run:
 * `for (const c of idempotencyStoreContract()) it(c.name, () => c.run({ store }))`.
 */
export function idempotencyStoreContract(): ContractCase<IdempotencyStoreUnderTest>[] {
  return [
    {
      name: 'gives a free key to the first claim and reports it pending to the next, per scope',
      async run({ store }) {
        const key = uniqueName('first-');
        expectEqual(
          await store.claim('alice', key, 'fp-1', inAnHour()),
          { state: 'claimed' },
          'the first claim',
        );
        expectEqual(
          await store.claim('alice', key, 'fp-2', inAnHour()),
          { state: 'pending', fingerprint: 'fp-1' },
          'a second claim while the first runs',
        );
        expectEqual(await store.claim('bob', key, 'fp-2', inAnHour()), { state: 'claimed' }, 'another scope');
      },
    },
    {
      name: 'lets exactly one of concurrent claims of a free key win; the others see its claim',
      async run({ store }) {
        const key = uniqueName('race-');
        const claims = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.claim('s', key, `fp-${i}`, inAnHour())),
        );
        const winners = claims.flatMap((claim, i) => (claim.state === 'claimed' ? [i] : []));
        expectEqual(winners.length, 1, 'winners');
        const others = claims.filter((claim) => claim.state !== 'claimed');
        expectEqual(
          others,
          others.map(() => ({ state: 'pending', fingerprint: `fp-${winners[0]}` })),
          'the losers',
        );
      },
    },
    {
      name: 'replays a completed response as it was sent, and one without a body without one',
      async run({ store }) {
        const key = uniqueName('done-');
        await store.claim('s', key, 'fp', inAnHour());
        await store.complete('s', key, created);
        const claim = await store.claim('s', key, 'fp', inAnHour());
        expectEqual(claim, { state: 'done', fingerprint: 'fp', response: created }, 'the replay');
        expectEqual(
          claim.state === 'done' ? JSON.stringify(claim.response.body) : undefined,
          JSON.stringify(created.body),
          'the body, field order included',
        );
        const empty = uniqueName('empty-');
        await store.claim('s', empty, 'fp', inAnHour());
        await store.complete('s', empty, { status: 204, headers: {} });
        expectEqual(
          await store.claim('s', empty, 'fp', inAnHour()),
          { state: 'done', fingerprint: 'fp', response: { status: 204, headers: {} } },
          'a replay without a body',
        );
      },
    },
    {
      name: 'keeps an answer naming subjects nobody forgot; completing a key no longer claimed keeps nothing',
      async run({ store }) {
        const key = uniqueName('subjects-');
        await store.claim('s', key, 'fp', inAnHour());
        await store.complete('s', key, created, ['zelda', 'link', 'zelda']);
        expectEqual(
          await store.claim('s', key, 'fp', inAnHour()),
          { state: 'done', fingerprint: 'fp', response: created },
          'the replay',
        );
        const released = uniqueName('released-');
        await store.claim('s', released, 'fp', inAnHour());
        await store.release('s', released);
        await store.complete('s', released, created, ['zelda']);
        expectEqual(
          await store.claim('s', released, 'fp', inAnHour()),
          { state: 'claimed' },
          'after a release',
        );
      },
    },
    {
      name: 'makes a released key claimable again, and never releases a completed one',
      async run({ store }) {
        const key = uniqueName('release-');
        await store.claim('s', key, 'fp-1', inAnHour());
        await store.release('s', key);
        expectEqual(await store.claim('s', key, 'fp-2', inAnHour()), { state: 'claimed' }, 'after a release');
        await store.complete('s', key, created);
        await store.release('s', key);
        const after = await store.claim('s', key, 'fp-3', inAnHour());
        expectEqual(after.state, 'done', 'a completed key after a release');
      },
    },
    {
      name: 'treats an expired record as absent, pending or done; the taker’s claim is its own',
      async run({ store }) {
        const pending = uniqueName('expired-pending-');
        await store.claim('s', pending, 'fp-1', new Date(Date.now() - 1000));
        expectEqual(
          await store.claim('s', pending, 'fp-2', inAnHour()),
          { state: 'claimed' },
          'an expired claim',
        );
        const done = uniqueName('expired-done-');
        await store.claim('s', done, 'fp-1', new Date(Date.now() - 1000));
        await store.complete('s', done, created);
        expectEqual(
          await store.claim('s', done, 'fp-2', inAnHour()),
          { state: 'claimed' },
          'an expired response',
        );
        expectEqual(
          await store.claim('s', done, 'fp-3', inAnHour()),
          { state: 'pending', fingerprint: 'fp-2' },
          'the new claim',
        );
      },
    },
  ];
}
