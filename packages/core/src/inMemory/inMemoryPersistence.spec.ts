import { describe, expect, it } from 'vitest';
import { token } from '../dependencyInjection/token.ts';
import { AggregateRoot } from '../domain/aggregateRoot.ts';
import { eventHandler, handler } from '../mediation/handler.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import type { QueryableRepository, Repository } from '../persistence/repository.ts';
import { badRequest, notFound, ok } from '../results/operationResult.ts';
import { eventStoreContract } from '../testing/eventStoreContract.ts';
import { expectSuccess, testApplication } from '../testing/handlerSpec.ts';
import { type PersistenceUnderTest, repositoryContract } from '../testing/repositoryContract.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryEventStore } from './inMemoryEventStore.ts';
import { inMemoryPersistence } from './inMemoryPersistence.ts';
import { inMemoryEventSourcedRepository, inMemoryStateStoredRepository } from './inMemoryRepositories.ts';

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
const _OpenBoth = command('OpenBoth', unchecked<{ id: string; outcome: 'fail' | 'throw' }>()).returns<void>();
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

describe('the in-memory unit of work', () => {
  it('lets one of concurrent writers of an aggregate commit and gives the others 409', async () => {
    await using t = await testApplication((app) =>
      app.register(inMemoryStateStoredRepository(Ledgers, Account)).handle(...handlers(Ledgers)),
    );
    await t.execute(new Open({ id: 'a', amount: 0 }));
    const results = await Promise.all(
      Array.from({ length: 8 }, () => t.execute(new Deposit({ id: 'a', amount: 1 }))),
    );
    const committed = results.filter((r) => r.ok).length;
    expect(committed).toBeGreaterThanOrEqual(1);
    expect(results.filter((r) => !r.ok).every((r) => r.status === 409)).toBe(true);
    expect(expectSuccess(await t.execute(new Balance({ id: 'a' })))).toBe(committed);
    expect(t.events.map((e) => e.position)).toEqual(
      Array.from({ length: committed + 1 }, (_, i) => `${i + 1}.${i + 1}`),
    );
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

  it('commits what an event handler changes through repositories (each delivery is a unit of work)', async () => {
    await using t = await testApplication((app) =>
      app
        .register(inMemoryEventSourcedRepository(Accounts, Account, { events: [Deposited] }))
        .handle(...handlers(Accounts))
        .handle(
          // Mirrors every positive deposit into an account of its own, as a negative one (which it ignores).
          eventHandler('mirror', Deposited, { accounts: Accounts }, async (e, { accounts }) => {
            if (e.amount < 0) return;
            const mirror = new Account('mirror');
            mirror.deposit(-e.amount);
            await accounts.add(mirror);
          }),
        ),
    );
    await t.execute(new Open({ id: 'a', amount: 3 }));
    expect(expectSuccess(await t.execute(new Balance({ id: 'mirror' })))).toBe(-3);
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
    expect(await t.eventsOf(Deposited)).toEqual([{ amount: 3 }]);
    expect(expectSuccess(await t.execute(new Balance({ id: 'a' })))).toBe(3);
  });
});

describe('the in-memory event store', () => {
  const database = new InMemoryDatabase();
  for (const contract of eventStoreContract()) {
    it(contract.name, () => contract.run({ store: (options) => new InMemoryEventStore(database, options) }));
  }
});

describe('the in-memory repositories', () => {
  const database = new InMemoryDatabase();
  const subject: PersistenceUnderTest = {
    persistence: inMemoryPersistence(database),
    stateStored: (repository, type, options) => inMemoryStateStoredRepository(repository, type, options),
    eventSourced: (repository, type, options) => inMemoryEventSourcedRepository(repository, type, options),
  };
  for (const contract of repositoryContract()) it(contract.name, () => contract.run(subject));
});
