// Test support (not published): a small ledger with every reader of the log at once, for the crash cycles. Commands
// deposit into accounts (event-sourced); an async projection keeps balances; an idempotent relay handler counts
// deposits per account through a repository. None of those effects is idempotent by itself.
import {
  AggregateRoot,
  type Application,
  command,
  createApplication,
  documents,
  event,
  eventHandler,
  handler,
  ok,
  projection,
  type QueryableRepository,
  type Repository,
  token,
  unchecked,
} from '@myelin/core';
import type { Database } from '../database/database.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresProjections } from '../projections/postgresProjections.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { postgresStateStoredRepository } from '../repositories/stateStoredRepository.ts';

export const Deposited = event('ledger.deposited', unchecked<{ account: string; amount: number }>());
const Counted = event('ledger.counted', unchecked<Record<never, never>>());

class Account extends AggregateRoot<{ balance: number }, InstanceType<typeof Deposited>> {
  constructor(id: string) {
    super(id, { balance: 0 });
  }
  deposit(amount: number): void {
    this.raise(new Deposited({ account: this.id, amount }));
  }
  protected override apply(state: { balance: number }, e: InstanceType<typeof Deposited>) {
    return { balance: state.balance + e.amount };
  }
}

class Tally extends AggregateRoot<{ count: number }, InstanceType<typeof Counted>> {
  constructor(id: string) {
    super(id, { count: 0 });
  }
  count(): void {
    this.raise(new Counted({}));
  }
  protected override apply(state: { count: number }) {
    return { count: state.count + 1 };
  }
}

const Accounts = token<Repository<Account>>('Accounts');
const Tallies = token<QueryableRepository<Tally>>('Tallies');
export const Deposit = command(
  'ledger.deposit',
  unchecked<{ account: string; amount: number }>(),
).returns<void>();

export const Balances = documents<{ balance: number }>('ledger-balances');
const balances = projection(Balances).on(Deposited, async (e, docs) => {
  const current = await docs.get(e.account);
  await docs.put(e.account, { balance: (current?.balance ?? 0) + e.amount });
});

export function ledgerApp(database: Database): Promise<Application> {
  return createApplication()
    .include(
      postgresPersistence(database, { retryOnConflict: { retries: 10 } }),
      postgresProjections([balances]),
    )
    .register(postgresEventSourcedRepository(Accounts, Account, { events: [Deposited] }))
    .register(postgresStateStoredRepository(Tallies, Tally, { collection: 'ledger-tally' }))
    .handle(
      handler(Deposit, { accounts: Accounts }, async (c, { accounts }) => {
        const found = await accounts.get(c.account);
        const account = found ?? new Account(c.account);
        account.deposit(c.amount);
        await (found === undefined ? accounts.add(account) : accounts.update(account));
        return ok(undefined);
      }),
      eventHandler(
        { name: 'tally', idempotent: true },
        Deposited,
        { tallies: Tallies },
        async (e, { tallies }) => {
          const found = await tallies.get(e.account);
          const tally = found ?? new Tally(e.account);
          tally.count();
          await (found === undefined ? tallies.add(tally) : tallies.update(tally));
        },
      ),
    )
    .build();
}

/** What the readers must show once caught up: the fold of the whole log, per account. */
export async function ledgerCheck(database: Database): Promise<{
  readonly mismatches: readonly unknown[];
  readonly deposits: number;
  readonly held: number;
}> {
  const s = database.schema;
  const { rows } = await database.query<{
    account: string;
    logged: number;
    deposits: number;
    projected: number | null;
    tallied: number | null;
  }>(
    `SELECT l.account, l.logged, l.deposits,
       (SELECT (doc->>'balance')::int FROM ${s}.read_documents WHERE model = 'ledger-balances@1' AND id = l.account)
         AS projected,
       (SELECT (state->>'count')::int FROM ${s}.documents WHERE collection = 'ledger-tally' AND id = l.account)
         AS tallied
     FROM (SELECT data->>'account' AS account, sum((data->>'amount')::int)::int AS logged, count(*)::int AS deposits
           FROM ${s}.events WHERE type = 'ledger.deposited' GROUP BY 1) l`,
  );
  const { rows: held } = await database.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${s}.held_events`,
  );
  return {
    mismatches: rows.filter((row) => row.projected !== row.logged || row.tallied !== row.deposits),
    deposits: rows.reduce((sum, row) => sum + row.deposits, 0),
    held: held[0]?.n ?? 0,
  };
}
