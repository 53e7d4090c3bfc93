import { describe, expect, it } from 'vitest';
import { token } from '../dependencyInjection/token.ts';
import { AggregateRoot } from '../domain/aggregateRoot.ts';
import { eventHandler, handler } from '../mediation/handler.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import type { NewEvent } from '../persistence/eventStore.ts';
import type { QueryableRepository, Repository } from '../persistence/repository.ts';
import { badRequest, notFound, ok } from '../results/operationResult.ts';
import { expectFailure, expectSuccess, testApplication } from '../testing/handlerSpec.ts';
import { InMemoryEventStore } from './inMemoryEventStore.ts';
import { inMemoryEventSourcedRepository, inMemoryStateStoredRepository } from './inMemoryPersistence.ts';

const Deposited = event('account.deposited.v1', unchecked<{ amount: number }>());
type AccountState = { balance: number; owner: string };

class Account extends AggregateRoot<AccountState, InstanceType<typeof Deposited>> {
  constructor(id: string) {
    super(id, { balance: 0, owner: '' });
  }
  deposit(amount: number) {
    this.raise(new Deposited({ amount }));
  }
  protected override apply(state: AccountState, event: InstanceType<typeof Deposited>): AccountState {
    return { ...state, balance: state.balance + event.amount };
  }
}

const Accounts = token<Repository<Account>>('Accounts');
const Ledgers = token<QueryableRepository<Account>>('Ledgers');
const Open = command('Open', unchecked<{ id: string; amount: number }>()).returns<number>();
const Deposit = command(
  'Deposit',
  unchecked<{ id: string; amount: number; outcome?: 'fail' | 'throw' }>(),
).returns<number>();
const OpenBoth = command('OpenBoth', unchecked<{ id: string; outcome: 'fail' | 'throw' }>()).returns<void>();
const Balance = query('Balance', unchecked<{ id: string }>()).returns<number>();

const handlers = (repository: typeof Accounts | typeof Ledgers) => [
  handler(Open, { accounts: repository }, async (c, { accounts }) => {
    const account = new Account(c.id);
    account.deposit(c.amount);
    await accounts.add(account);
    return ok(account.state.balance);
  }),
  handler(Deposit, { accounts: repository }, async (c, { accounts }) => {
    const account = await accounts.get(c.id);
    if (account === undefined) return notFound('Account', c.id);
    account.deposit(c.amount);
    await accounts.update(account);
    if (c.outcome === 'fail') return badRequest('refused');
    if (c.outcome === 'throw') throw new Error('crashed');
    return ok(account.state.balance);
  }),
  handler(Balance, { accounts: repository }, async (q, { accounts }) => {
    const account = await accounts.get(q.id);
    return account ? ok(account.state.balance) : notFound('Account', q.id);
  }),
];

describe.each([
  [
    'event-sourced',
    () => inMemoryEventSourcedRepository(Accounts, Account, { events: [Deposited] }),
    Accounts,
  ],
  ['state-stored', () => inMemoryStateStoredRepository(Ledgers, Account), Ledgers],
] as const)('%s in-memory repository', (_kind, provider, repository) => {
  const setup = () =>
    testApplication((app) => app.register(provider() as never).handle(...handlers(repository)));

  it('stores an aggregate and rebuilds it with its version', async () => {
    await using t = await setup();
    expectSuccess(await t.execute(new Open({ id: 'a', amount: 10 })));
    expect(expectSuccess(await t.execute(new Deposit({ id: 'a', amount: 5 })))).toBe(15);
    expect(expectSuccess(await t.execute(new Balance({ id: 'a' })))).toBe(15);
    expect(t.eventsOf(Deposited)).toEqual([{ amount: 10 }, { amount: 5 }]);
    expect(t.events.map((e) => e.position)).toEqual([1, 2]);
  });

  it('answers 409 when the id is taken', async () => {
    await using t = await setup();
    await t.execute(new Open({ id: 'a', amount: 1 }));
    const problem = expectFailure(await t.execute(new Open({ id: 'a', amount: 1 })), 409);
    expect(problem.detail).toContain('already exists');
    expect(t.events).toHaveLength(1);
  });

  it('writes nothing when the handler returns a failure or throws', async () => {
    await using t = await setup();
    await t.execute(new Open({ id: 'a', amount: 1 }));
    expectFailure(await t.execute(new Deposit({ id: 'a', amount: 5, outcome: 'fail' })), 400);
    await expect(t.execute(new Deposit({ id: 'a', amount: 5, outcome: 'throw' }))).rejects.toThrow('crashed');
    expect(expectSuccess(await t.execute(new Balance({ id: 'a' })))).toBe(1);
    expect(t.events).toHaveLength(1);
  });

  it('lets one of two concurrent writers of an aggregate commit and gives the other 409', async () => {
    await using t = await setup();
    await t.execute(new Open({ id: 'a', amount: 0 }));
    const results = await Promise.all(
      Array.from({ length: 8 }, () => t.execute(new Deposit({ id: 'a', amount: 1 }))),
    );
    const committed = results.filter((r) => r.ok).length;
    expect(committed).toBeGreaterThanOrEqual(1);
    expect(results.filter((r) => !r.ok).every((r) => r.status === 409)).toBe(true);
    expect(expectSuccess(await t.execute(new Balance({ id: 'a' })))).toBe(committed);
  });
});

describe('the in-memory unit of work', () => {
  it('commits two aggregates atomically: a failure or exception leaves neither', async () => {
    const setup = () =>
      testApplication((app) =>
        app
          .register(inMemoryEventSourcedRepository(Accounts, Account, { events: [Deposited] }))
          .register(inMemoryStateStoredRepository(Ledgers, Account))
          .handle(
            handler(OpenBoth, { accounts: Accounts, ledgers: Ledgers }, async (c, { accounts, ledgers }) => {
              const a = new Account(c.id);
              a.deposit(1);
              await accounts.add(a);
              const b = new Account(c.id);
              b.deposit(2);
              await ledgers.add(b);
              if (c.outcome === 'throw') throw new Error('after both');
              return badRequest('after both');
            }),
          ),
      );
    await using t = await setup();
    expectFailure(await t.execute(new OpenBoth({ id: 'x', outcome: 'fail' })), 400);
    await expect(t.execute(new OpenBoth({ id: 'x', outcome: 'throw' }))).rejects.toThrow('after both');
    expect(t.events).toEqual([]);
    expect(t.database.document('Account', 'x')).toBeUndefined();
    expect(t.database.stream('Account-x')).toBeUndefined();
  });

  it('delivers committed events to event handlers with the command’s correlation and causation', async () => {
    const seen: unknown[] = [];
    await using t = await testApplication((app) =>
      app
        .register(inMemoryEventSourcedRepository(Accounts, Account, { events: [Deposited] }))
        .handle(...handlers(Accounts))
        .handle(
          eventHandler('audit', Deposited, (e, _d, context) => {
            seen.push({
              amount: e.amount,
              correlationId: context.correlationId,
              causationId: context.causationId,
            });
          }),
        ),
    );
    await t.execute(new Open({ id: 'a', amount: 3 }), { correlationId: 'corr', messageId: 'cmd-1' });
    expect(seen).toEqual([{ amount: 3, correlationId: 'corr', causationId: 'cmd-1' }]);
    expect(t.events[0]?.metadata).toMatchObject({
      type: 'account.deposited.v1',
      version: 1,
      correlationId: 'corr',
      causationId: 'cmd-1',
    });
  });

  it('keeps the commit when an event handler fails afterwards, and rejects execute with the handler named', async () => {
    await using t = await testApplication((app) =>
      app
        .register(inMemoryEventSourcedRepository(Accounts, Account, { events: [Deposited] }))
        .handle(...handlers(Accounts))
        .handle(
          eventHandler('mailer', Deposited, () => {
            throw new Error('smtp down');
          }),
        ),
    );
    await expect(t.execute(new Open({ id: 'a', amount: 3 }))).rejects.toThrow("'mailer' (smtp down)");
    expect(t.eventsOf(Deposited)).toEqual([{ amount: 3 }]);
    expect(expectSuccess(await t.execute(new Balance({ id: 'a' })))).toBe(3);
  });

  it('finds state-stored aggregates by field, sorted and paged', async () => {
    await using t = await testApplication((app) =>
      app.register(inMemoryStateStoredRepository(Ledgers, Account)).handle(...handlers(Ledgers)),
    );
    for (const [id, amount] of [
      ['a', 5],
      ['b', 1],
      ['c', 5],
      ['d', 3],
    ] as const)
      await t.execute(new Open({ id, amount }));
    const Find = query('Find', unchecked<{ page: number }>()).returns<string[]>();
    await using f = await testApplication((app) =>
      app.register(inMemoryStateStoredRepository(Ledgers, Account)).handle(
        handler(Find, { ledgers: Ledgers }, async (q, { ledgers }) => {
          const page = await ledgers.find({
            where: { balance: { in: [1, 5] } },
            sort: [{ field: 'balance', direction: 'desc' }],
            page: q.page,
            pageSize: 2,
          });
          return ok([
            ...page.items.map((a) => `${a.id}:${a.state.balance}:v${a.version}`),
            `total=${page.total}`,
          ]);
        }),
      ),
    );
    // Share one database between the two applications to read what the first wrote.
    for (const entry of t.database.documents('Account')) {
      f.database.commit(
        [
          {
            collection: 'Account',
            id: entry.id,
            expectedVersion: 'no_stream',
            state: entry.state,
            version: entry.version,
          },
        ],
        [],
      );
    }
    expect(expectSuccess(await f.execute(new Find({ page: 1 })))).toEqual(['a:5:v1', 'c:5:v1', 'total=3']);
    expect(expectSuccess(await f.execute(new Find({ page: 2 })))).toEqual(['b:1:v1', 'total=3']);
  });
});

describe('the in-memory event store', () => {
  const newEvent = (eventId: string, amount: number): NewEvent => ({
    data: { amount },
    metadata: {
      eventId,
      type: 'account.deposited.v1',
      version: 1,
      occurredAt: new Date(0),
      correlationId: 'c',
      causationId: undefined,
      principal: undefined,
    },
  });

  it('appends with an expected version: no stream, exactly N, or any', async () => {
    const store = new InMemoryEventStore();
    expect(await store.append('s', [newEvent('e1', 1)], 'no_stream')).toEqual({
      nextVersion: 1,
      lastPosition: 1,
    });
    await expect(store.append('s', [newEvent('e2', 2)], 'no_stream')).rejects.toThrow("'s' already exists");
    await expect(store.append('s', [newEvent('e2', 2)], 0)).rejects.toThrow(
      "'s' was expected at version 0 but is at version 1",
    );
    expect(await store.append('s', [newEvent('e2', 2), newEvent('e3', 3)], 1)).toEqual({
      nextVersion: 3,
      lastPosition: 3,
    });
    expect(await store.append('s', [newEvent('e4', 4)], 'any')).toEqual({ nextVersion: 4, lastPosition: 4 });
  });

  it('stores an event id once: a retried append is a no-op', async () => {
    const store = new InMemoryEventStore();
    await store.append('s', [newEvent('e1', 1)], 'no_stream');
    expect(await store.append('s', [newEvent('e1', 1)], 'no_stream')).toEqual({
      nextVersion: 1,
      lastPosition: 1,
    });
    expect(await store.readAll()).toHaveLength(1);
  });

  it('reads a stream forwards and backwards from a version, and the log by position', async () => {
    const store = new InMemoryEventStore();
    await store.append('a', [newEvent('a1', 1), newEvent('a2', 2), newEvent('a3', 3)]);
    await store.append('b', [newEvent('b1', 10)]);
    const amounts = (events: readonly { data: unknown }[]) =>
      events.map((e) => (e.data as { amount: number }).amount);
    expect(amounts(await store.readStream('a', { from: 2 }))).toEqual([2, 3]);
    expect(amounts(await store.readStream('a', { direction: 'backwards' }))).toEqual([3, 2, 1]);
    expect(amounts(await store.readStream('a', { direction: 'backwards', from: 2, limit: 1 }))).toEqual([2]);
    expect(amounts(await store.readAll({ after: 2, limit: 5 }))).toEqual([3, 10]);
    expect((await store.readAll()).map((e) => `${e.streamId}@${e.streamVersion}#${e.position}`)).toEqual([
      'a@1#1',
      'a@2#2',
      'a@3#3',
      'b@1#4',
    ]);
    expect(await store.readStream('missing')).toEqual([]);
  });
});
