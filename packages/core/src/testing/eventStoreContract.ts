import { comparePositions, type LogPosition, startOfLog } from '../log/logPosition.ts';
import type { EventStore, NewEvent, StoredEvent } from '../persistence/eventStore.ts';
import { isConcurrencyError } from '../persistence/repository.ts';
import { type Upcaster, upcaster } from '../persistence/upcasting.ts';
import { SpecificationError } from './aggregateSpec.ts';
import { type ContractCase, expectEqual, expectRejection, uniqueName } from './contract.ts';
import { newEvent } from './events.ts';

/** What the event store contract runs against: stores over one database, made with the given options. */
export interface EventStoreUnderTest {
  store(options?: { readonly upcasters?: readonly Upcaster[] }): EventStore;
}

const occurredAt = new Date('2026-01-02T03:04:05.678Z');

function deposit(amount: number, overrides: Partial<NewEvent['metadata']> = {}): NewEvent {
  return newEvent(
    'account.deposited',
    { amount, note: `deposit ${amount}` },
    {
      occurredAt,
      correlationId: 'correlation-1',
      causationId: 'command-1',
      principal: 'alice',
      ...overrides,
    },
  );
}

const amounts = (events: readonly StoredEvent[]) => events.map((e) => (e.data as { amount: number }).amount);

/**
 * Reads the log after `after` until it holds `count` events of `streams` (other cases may share the database). A store may hold back events committed after a
 * transaction that is still running (PostgreSQL's horizon, shared by every schema of the database), so an event
 * can become readable a moment after its append returned; it is never skipped.
 */
async function readAllOf(
  store: EventStore,
  after: LogPosition,
  streams: readonly string[],
  count: number,
): Promise<readonly StoredEvent[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const events = (await store.readAll({ after })).filter((e) => streams.includes(e.streamId));
    if (events.length >= count || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function head(store: EventStore): Promise<LogPosition> {
  return (await store.readAll()).at(-1)?.position ?? startOfLog;
}

/** The behaviour every {@link EventStore} adapter must have. */
export function eventStoreContract(): ContractCase<EventStoreUnderTest>[] {
  return [
    {
      name: 'appends with an expected version: no stream yet, exactly N, or any',
      async run(subject) {
        const store = subject.store();
        const s = uniqueName('account-');
        expectEqual((await store.append(s, [deposit(1)], 'no_stream')).nextVersion, 1, 'first append');
        const taken = await expectRejection(
          () => store.append(s, [deposit(2)], 'no_stream'),
          isConcurrencyError,
          'no_stream on an existing stream',
        );
        expectEqual((taken as Error).message, `'${s}' already exists (at version 1)`, 'message');
        const stale = await expectRejection(
          () => store.append(s, [deposit(2)], 0),
          isConcurrencyError,
          'a stale expected version',
        );
        expectEqual(
          (stale as Error).message,
          `'${s}' was expected at version 0 but is at version 1`,
          'message',
        );
        expectEqual((await store.append(s, [deposit(2), deposit(3)], 1)).nextVersion, 3, 'exactly 1');
        expectEqual((await store.append(s, [deposit(4)], 'any')).nextVersion, 4, 'any');
        await expectRejection(
          () => store.append(uniqueName('missing-'), [deposit(1)], 3),
          (error) => isConcurrencyError(error) && error.actualVersion === undefined,
          'an expected version on a missing stream',
        );
        expectEqual((await store.append(uniqueName('fresh-'), [deposit(1)], 0)).nextVersion, 1, '0 = new');
        expectEqual(amounts(await store.readStream(s)), [1, 2, 3, 4], 'the stream');
      },
    },
    {
      name: 'appends several events atomically: a conflict writes none of them',
      async run(subject) {
        const store = subject.store();
        const s = uniqueName('account-');
        await store.append(s, [deposit(1)]);
        await expectRejection(
          () => store.append(s, [deposit(2), deposit(3)], 5),
          isConcurrencyError,
          'stale append',
        );
        expectEqual(amounts(await store.readStream(s)), [1], 'the stream after a conflict');
      },
    },
    {
      name: 'stores an event id once: a retried append is a no-op',
      async run(subject) {
        const store = subject.store();
        const s = uniqueName('account-');
        const events = [deposit(1), deposit(2)];
        const first = await store.append(s, events, 'no_stream');
        expectEqual(await store.append(s, events, 'no_stream'), first, 'the retried append result');
        expectEqual(amounts(await store.readStream(s)), [1, 2], 'the stream after a retry');
        const third = deposit(3);
        // A retry that carries one more event stores only the new one.
        expectEqual((await store.append(s, [...events, third], 'any')).nextVersion, 3, 'partial retry');
        expectEqual(amounts(await store.readStream(s)), [1, 2, 3], 'the stream after a partial retry');
      },
    },
    {
      name: 'reads a stream forwards and backwards from a version, with a limit',
      async run(subject) {
        const store = subject.store();
        const s = uniqueName('account-');
        await store.append(s, [deposit(1), deposit(2), deposit(3)]);
        expectEqual(amounts(await store.readStream(s)), [1, 2, 3], 'forwards');
        expectEqual(amounts(await store.readStream(s, { from: 2 })), [2, 3], 'forwards from 2');
        expectEqual(amounts(await store.readStream(s, { limit: 2 })), [1, 2], 'forwards, 2 of them');
        expectEqual(amounts(await store.readStream(s, { direction: 'backwards' })), [3, 2, 1], 'backwards');
        expectEqual(
          amounts(await store.readStream(s, { direction: 'backwards', from: 2, limit: 1 })),
          [2],
          'backwards from 2, 1 of them',
        );
        expectEqual(
          (await store.readStream(s)).map((e) => e.streamVersion),
          [1, 2, 3],
          'stream versions',
        );
        expectEqual(await store.readStream(uniqueName('missing-')), [], 'a missing stream');
      },
    },
    {
      name: 'reads the global log after a position, in order, with every field of every event',
      async run(subject) {
        const store = subject.store();
        const start = await head(store);
        const a = uniqueName('a-');
        const b = uniqueName('b-');
        const first = deposit(1, { causationId: undefined, principal: undefined });
        await store.append(a, [first, deposit(2)]);
        const appended = await store.append(b, [deposit(10)]);
        await store.append(a, [deposit(3)]);
        const log = await readAllOf(store, start, [a, b], 4);
        expectEqual(
          log.map(
            (e) =>
              `${e.streamId === a ? 'a' : 'b'}@${e.streamVersion}:${(e.data as { amount: number }).amount}`,
          ),
          ['a@1:1', 'a@2:2', 'b@1:10', 'a@3:3'],
          'the log',
        );
        expectEqual(log[2]?.position, appended.lastPosition, 'the position append returned');
        for (let i = 1; i < log.length; i++) {
          if (comparePositions((log[i - 1] as StoredEvent).position, (log[i] as StoredEvent).position) >= 0) {
            throw new SpecificationError(
              `positions must increase along the log: ${log.map((e) => e.position)}`,
            );
          }
        }
        expectEqual(log[0]?.data, first.data, 'the payload');
        expectEqual(log[0]?.metadata, first.metadata, 'the metadata');
        expectEqual(
          amounts(await store.readAll({ after: (log[0] as StoredEvent).position, limit: 2 })),
          [2, 10],
          'after the first, 2 of them',
        );
        expectEqual(await store.readAll({ after: (log[3] as StoredEvent).position }), [], 'after the last');
      },
    },
    {
      name: 'upcasts old versions of an event to the current shape when reading',
      async run(subject) {
        const type = uniqueName('account.opened.');
        const s = uniqueName('account-');
        const start = await head(subject.store());
        await subject.store().append(s, [
          { data: { owner: 'Ann Lee' }, metadata: { ...deposit(0).metadata, type, version: 1 } },
          { data: { first: 'Bo', last: 'Ng' }, metadata: { ...deposit(0).metadata, type, version: 2 } },
        ]);
        const store = subject.store({
          upcasters: [
            upcaster(type, 1, (old: { owner: string }) => {
              const [first, last] = old.owner.split(' ');
              return { first, last };
            }),
            upcaster(type, 2, (old: { first: string; last: string }) => ({ name: { ...old } })),
          ],
        });
        const expected = [{ name: { first: 'Ann', last: 'Lee' } }, { name: { first: 'Bo', last: 'Ng' } }];
        const stream = await store.readStream(s);
        expectEqual(
          stream.map((e) => e.data),
          expected,
          'upcast stream',
        );
        expectEqual(
          stream.map((e) => e.metadata.version),
          [3, 3],
          'upcast versions',
        );
        expectEqual(
          (await readAllOf(store, start, [s], 2)).map((e) => e.data),
          expected,
          'upcast log',
        );
      },
    },
  ];
}
