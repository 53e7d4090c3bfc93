import { type Application, createApplication, type Module } from '../application/application.ts';
import type { Provider } from '../dependencyInjection/container.ts';
import { type Token, token } from '../dependencyInjection/token.ts';
import { AggregateRoot, type AggregateType } from '../domain/aggregateRoot.ts';
import { handler } from '../mediation/handler.ts';
import { command, type EventDefinition, event, query, unchecked } from '../messages/message.ts';
import { EventStore } from '../persistence/eventStore.ts';
import type { QueryableRepository, Repository } from '../persistence/repository.ts';
import { badRequest, notFound, ok } from '../results/operationResult.ts';
import { SpecificationError } from './aggregateSpec.ts';
import { type ContractCase, expectEqual, uniqueName } from './contract.ts';
import { expectFailure, expectSuccess } from './handlerSpec.ts';

/** What the repository contract runs against: a persistence module and its two kinds of repository. */
export interface PersistenceUnderTest {
  /** Included in every application a case builds; all of them share one database. */
  readonly persistence: Module;
  stateStored<TAggregate extends AggregateRoot<any, any>>(
    repository: Token<QueryableRepository<TAggregate>>,
    type: AggregateType<TAggregate>,
    options: { readonly collection: string },
  ): Provider<QueryableRepository<TAggregate>, any>;
  eventSourced<TAggregate extends AggregateRoot<any, any>>(
    repository: Token<Repository<TAggregate>>,
    type: AggregateType<TAggregate>,
    options: { readonly events: readonly EventDefinition[]; readonly stream: string },
  ): Provider<Repository<TAggregate>, any>;
}

const Deposited = event('contract.deposited', unchecked<{ amount: number }>());
type Deposited = InstanceType<typeof Deposited>;
type AccountState = { balance: number; owner: string };

class Account extends AggregateRoot<AccountState, Deposited> {
  constructor(id: string) {
    super(id, { balance: 0, owner: '' });
  }
  deposit(amount: number): void {
    this.raise(new Deposited({ amount }));
  }
  protected override apply(state: AccountState, event: Deposited): AccountState {
    return { ...state, balance: state.balance + event.amount, owner: state.owner || `owner of ${this.id}` };
  }
}

type Outcome = 'ok' | 'fail' | 'throw';
const Open = command('contract.open', unchecked<{ id: string; amount: number }>()).returns<number>();
const Deposit = command(
  'contract.deposit',
  unchecked<{ id: string; amount: number; outcome?: Outcome }>(),
).returns<number>();
const Close = command('contract.close', unchecked<{ id: string }>()).returns<void>();
const OpenBoth = command('contract.openBoth', unchecked<{ id: string; outcome: Outcome }>()).returns<void>();
const Twice = command('contract.twice', unchecked<{ id: string }>()).returns<boolean>();
const Balance = query('contract.balance', unchecked<{ id: string }>()).returns<{
  balance: number;
  version: number;
  exists: boolean;
}>();
const Find = query('contract.find', unchecked<{ page: number; sort: 'asc' | 'desc' }>()).returns<string[]>();

interface Kind {
  readonly name: string;
  register(
    subject: PersistenceUnderTest,
    repository: Token<QueryableRepository<Account>>,
    name: string,
  ): Provider<any, any>;
}

const kinds: readonly Kind[] = [
  {
    name: 'event-sourced',
    register: (subject, repository, name) =>
      subject.eventSourced(repository, Account, { events: [Deposited], stream: name }),
  },
  {
    name: 'state-stored',
    register: (subject, repository, name) => subject.stateStored(repository, Account, { collection: name }),
  },
];

/** Builds an application whose handlers use one repository of the given kind; `hold` holds a deposit or close after its read. */
async function build(
  subject: PersistenceUnderTest,
  kind: Kind,
  name: string,
  hold?: () => Promise<void>,
): Promise<Application> {
  const Accounts = token<QueryableRepository<Account>>(`Accounts:${name}`);
  return createApplication()
    .include(subject.persistence)
    .register(kind.register(subject, Accounts, name))
    .handle(
      handler(Open, { accounts: Accounts }, async (c, { accounts }) => {
        const account = new Account(c.id);
        account.deposit(c.amount);
        await accounts.add(account);
        return ok(account.state.balance);
      }),
      handler(Deposit, { accounts: Accounts }, async (c, { accounts }) => {
        const account = await accounts.get(c.id);
        if (account === undefined) return notFound('Account', c.id);
        await hold?.();
        account.deposit(c.amount);
        await accounts.update(account);
        if (c.outcome === 'fail') return badRequest('refused');
        if (c.outcome === 'throw') throw new Error('crashed');
        return ok(account.state.balance);
      }),
      handler(Close, { accounts: Accounts }, async (c, { accounts }) => {
        const account = await accounts.get(c.id);
        if (account === undefined) return notFound('Account', c.id);
        await hold?.();
        await accounts.remove(account);
        return ok(undefined);
      }),
      handler(Twice, { accounts: Accounts }, async (c, { accounts }) => {
        const first = await accounts.get(c.id);
        const second = await accounts.get(c.id);
        return ok(first !== undefined && first === second);
      }),
      handler(Balance, { accounts: Accounts }, async (q, { accounts }) => {
        const account = await accounts.get(q.id);
        return ok({
          balance: account?.state.balance ?? 0,
          version: account?.version ?? 0,
          exists: await accounts.exists(q.id),
        });
      }),
    )
    .build();
}

const balance = async (app: Application, id: string) =>
  expectSuccess(await app.mediator.execute(new Balance({ id })));

const streamOf = async (app: Application, name: string, id: string) =>
  (await app.container.root.resolve(EventStore).readStream(`${name}-${id}`)).map(
    (e) => (e.data as { amount: number }).amount,
  );

/** The behaviour every repository adapter must have, for both kinds: a handler cannot tell which it got. */
export function repositoryContract(): ContractCase<PersistenceUnderTest>[] {
  const perKind = kinds.flatMap((kind): ContractCase<PersistenceUnderTest>[] => [
    {
      name: `${kind.name}: stores an aggregate with its events and rebuilds it at its version`,
      async run(subject) {
        const name = uniqueName('Account');
        await using app = await build(subject, kind, name);
        expectSuccess(
          await app.mediator.execute(new Open({ id: 'a', amount: 10 }), { correlationId: 'corr-1' }),
          200,
        );
        expectEqual(
          expectSuccess(await app.mediator.execute(new Deposit({ id: 'a', amount: 5 }))),
          15,
          'balance',
        );
        expectEqual(await balance(app, 'a'), { balance: 15, version: 2, exists: true }, 'rebuilt');
        expectEqual(await balance(app, 'b'), { balance: 0, version: 0, exists: false }, 'missing');
        expectEqual(await streamOf(app, name, 'a'), [10, 5], 'events');
        const [opened] = await app.container.root.resolve(EventStore).readStream(`${name}-a`);
        expectEqual(opened?.metadata.correlationId, 'corr-1', 'the correlation id');
        expectEqual(opened?.metadata.type, 'contract.deposited', 'the type');
      },
    },
    {
      name: `${kind.name}: answers 409 when the id is taken`,
      async run(subject) {
        const name = uniqueName('Account');
        await using app = await build(subject, kind, name);
        await app.mediator.execute(new Open({ id: 'a', amount: 1 }));
        const problem = expectFailure(await app.mediator.execute(new Open({ id: 'a', amount: 2 })), 409);
        if (!problem.detail?.includes('already exists')) {
          throw new SpecificationError(`the 409 should say the id exists: ${problem.detail}`);
        }
        expectEqual(await streamOf(app, name, 'a'), [1], 'events');
      },
    },
    {
      name: `${kind.name}: writes nothing when the handler returns a failure or throws`,
      async run(subject) {
        const name = uniqueName('Account');
        await using app = await build(subject, kind, name);
        await app.mediator.execute(new Open({ id: 'a', amount: 1 }));
        expectFailure(await app.mediator.execute(new Deposit({ id: 'a', amount: 5, outcome: 'fail' })), 400);
        let thrown: unknown;
        await app.mediator
          .execute(new Deposit({ id: 'a', amount: 5, outcome: 'throw' }))
          .catch((e) => (thrown = e));
        expectEqual((thrown as Error | undefined)?.message, 'crashed', 'the exception');
        expectEqual(await balance(app, 'a'), { balance: 1, version: 1, exists: true }, 'unchanged');
        expectEqual(await streamOf(app, name, 'a'), [1], 'events');
      },
    },
    {
      name: `${kind.name}: a write based on a stale read fails with 409 and changes nothing`,
      async run(subject) {
        const name = uniqueName('Account');
        let release = () => {};
        const hold = () => new Promise<void>((resolve) => (release = resolve));
        await using slow = await build(subject, kind, name, hold);
        await using fast = await build(subject, kind, name);
        const whileHeld = async (action: () => Promise<unknown>) => {
          await new Promise((resolve) => setTimeout(resolve, 50)); // the held command has read version 1 by now
          await action();
          release();
        };
        await fast.mediator.execute(new Open({ id: 'a', amount: 1 }));
        const [problem] = await Promise.all([
          slow.mediator.execute(new Deposit({ id: 'a', amount: 100 })).then((r) => expectFailure(r, 409)),
          whileHeld(async () =>
            expectSuccess(await fast.mediator.execute(new Deposit({ id: 'a', amount: 2 }))),
          ),
        ]);
        expectEqual(problem.expectedVersion, 1, 'expected version');
        expectEqual(problem.actualVersion, 2, 'actual version');
        await Promise.all([
          slow.mediator.execute(new Close({ id: 'a' })).then((r) => expectFailure(r, 409)),
          whileHeld(async () =>
            expectSuccess(await fast.mediator.execute(new Deposit({ id: 'a', amount: 0 }))),
          ),
        ]);
        expectEqual(
          await balance(fast, 'a'),
          { balance: 3, version: 3, exists: true },
          'after the conflicts',
        );
      },
    },
    {
      name: `${kind.name}: removes an aggregate`,
      async run(subject) {
        const name = uniqueName('Account');
        await using app = await build(subject, kind, name);
        await app.mediator.execute(new Open({ id: 'a', amount: 1 }));
        expectSuccess(await app.mediator.execute(new Close({ id: 'a' })));
        expectEqual(await balance(app, 'a'), { balance: 0, version: 0, exists: false }, 'removed');
        expectFailure(await app.mediator.execute(new Close({ id: 'a' })), 404);
      },
    },
    {
      name: `${kind.name}: returns one instance per aggregate within a command`,
      async run(subject) {
        const name = uniqueName('Account');
        await using app = await build(subject, kind, name);
        await app.mediator.execute(new Open({ id: 'a', amount: 1 }));
        expectEqual(expectSuccess(await app.mediator.execute(new Twice({ id: 'a' }))), true, 'same instance');
      },
    },
  ]);
  return [
    ...perKind,
    {
      name: 'commits aggregates of both kinds atomically: a failure or exception leaves neither row nor event',
      async run(subject) {
        const name = uniqueName('Account');
        const Accounts = token<Repository<Account>>('Accounts');
        const Ledgers = token<QueryableRepository<Account>>('Ledgers');
        await using app = await createApplication()
          .include(subject.persistence)
          .register(subject.eventSourced(Accounts, Account, { events: [Deposited], stream: `${name}E` }))
          .register(subject.stateStored(Ledgers, Account, { collection: `${name}S` }))
          .handle(
            handler(OpenBoth, { accounts: Accounts, ledgers: Ledgers }, async (c, { accounts, ledgers }) => {
              const a = new Account(c.id);
              a.deposit(1);
              await accounts.add(a);
              const b = new Account(c.id);
              b.deposit(2);
              await ledgers.add(b);
              if (c.outcome === 'throw') throw new Error('after both');
              return c.outcome === 'fail' ? badRequest('after both') : ok(undefined);
            }),
          )
          .build();
        expectFailure(await app.mediator.execute(new OpenBoth({ id: 'x', outcome: 'fail' })), 400);
        await app.mediator.execute(new OpenBoth({ id: 'x', outcome: 'throw' })).catch(() => undefined);
        expectEqual(await streamOf(app, `${name}E`, 'x'), [], 'event-sourced events');
        expectEqual(await streamOf(app, `${name}S`, 'x'), [], 'state-stored events');
        expectSuccess(await app.mediator.execute(new OpenBoth({ id: 'x', outcome: 'ok' })));
        expectEqual(await streamOf(app, `${name}E`, 'x'), [1], 'event-sourced events after success');
        expectEqual(await streamOf(app, `${name}S`, 'x'), [2], 'state-stored events after success');
      },
    },
    {
      name: 'state-stored: finds aggregates by field, sorted and paged',
      async run(subject) {
        const name = uniqueName('Account');
        const Ledgers = token<QueryableRepository<Account>>('Ledgers');
        await using app = await createApplication()
          .include(subject.persistence)
          .register(subject.stateStored(Ledgers, Account, { collection: name }))
          .handle(
            handler(Open, { ledgers: Ledgers }, async (c, { ledgers }) => {
              const account = new Account(c.id);
              account.deposit(c.amount);
              await ledgers.add(account);
              return ok(account.state.balance);
            }),
            handler(Find, { ledgers: Ledgers }, async (q, { ledgers }) => {
              const page = await ledgers.find({
                where: {
                  balance: { in: [1, 5, 7] },
                  owner: { in: ['owner of a', 'owner of b', 'owner of c', 'owner of e'] },
                },
                sort: [
                  { field: 'balance', direction: q.sort },
                  { field: 'owner', direction: 'asc' },
                ],
                page: q.page,
                pageSize: 2,
              });
              return ok([
                ...page.items.map((a) => `${a.id}:${a.state.balance}:v${a.version}`),
                `total=${page.total}`,
              ]);
            }),
          )
          .build();
        for (const [id, amount] of [
          ['a', 5],
          ['b', 1],
          ['c', 5],
          ['d', 3],
          ['e', 7],
          ['f', 5],
        ] as const) {
          await app.mediator.execute(new Open({ id, amount }));
        }
        const find = async (page: number, sort: 'asc' | 'desc') =>
          expectSuccess(await app.mediator.execute(new Find({ page, sort })));
        expectEqual(await find(1, 'desc'), ['e:7:v1', 'a:5:v1', 'total=4'], 'page 1, descending');
        expectEqual(await find(2, 'desc'), ['c:5:v1', 'b:1:v1', 'total=4'], 'page 2, descending');
        expectEqual(await find(1, 'asc'), ['b:1:v1', 'a:5:v1', 'total=4'], 'page 1, ascending');
        expectEqual(await find(3, 'asc'), ['total=4'], 'past the end');
      },
    },
  ];
}
