// Myelin on PostgreSQL, used as an application would: its database handle (a pg pool inside), its migrations, and
// either the event store alone (`PostgresEventStore.append` with the expected version) or a whole command.
import {
  AggregateRoot,
  command,
  createApplication,
  event,
  handler,
  isConcurrencyError,
  ok,
  type Repository,
  token,
  unchecked,
} from '@myelin/core';
import {
  type Database,
  migrate,
  PostgresEventStore,
  type PostgresEventStoreOptions,
  postgresEventSourcedRepository,
  postgresPersistence,
} from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import {
  type Appender,
  appended,
  type CommandSubject,
  connectionString,
  depositedType,
  nextStream,
  poolSize,
} from './workload.ts';

export const myelinSchema = 'bench_myelin';

/** Myelin's appender, with its store and database for the checks that look at what it stored. */
export interface MyelinAppender extends Appender {
  readonly store: PostgresEventStore;
  readonly db: Database;
}

/**
 * Drops Myelin's schema (or `schema`), migrates it afresh, and opens the store with `storeOptions`. `reset`
 * empties the log and the streams, and keeps the data keys of personal data (and the store's cache of them).
 */
export async function setUpMyelin(
  schema = myelinSchema,
  storeOptions: PostgresEventStoreOptions = {},
): Promise<MyelinAppender> {
  const db = postgresDatabase({ connectionString, schema, max: poolSize });
  await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`);
  await migrate(db);
  const store = new PostgresEventStore(db, storeOptions);
  return {
    store,
    db,
    async append(streamId, events, expectedVersion) {
      await store.append(streamId, events, expectedVersion === 0 ? 'no_stream' : expectedVersion);
    },
    isConflict: isConcurrencyError,
    async reset() {
      await db.exec(`TRUNCATE ${db.schema}.events, ${db.schema}.streams RESTART IDENTITY`);
    },
    async count() {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM ${db.schema}.events`,
      );
      return rows[0]?.n ?? 0;
    },
    close: () => db.close(),
  };
}

// The command path: an event-sourced account, one command that loads it (or opens it), deposits, and saves it.
// The raw twin of it is `rawCommands` in raw.ts; both answer the new balance, which the loop checks.
const Deposited = event(depositedType, unchecked<{ amount: number }>());
type AccountState = { balance: number };

class Account extends AggregateRoot<AccountState, InstanceType<typeof Deposited>> {
  constructor(id: string) {
    super(id, { balance: 0 });
  }
  deposit(amount: number): void {
    this.raise(new Deposited({ amount }));
  }
  protected override apply(state: AccountState, event: InstanceType<typeof Deposited>): AccountState {
    return { balance: state.balance + event.amount };
  }
}

const Accounts = token<Repository<Account>>('bench.Accounts');
const Deposit = command('bench.Deposit', unchecked<{ id: string; amount: number }>()).returns<number>();

const deposit = handler(Deposit, { accounts: Accounts }, async (c, { accounts }) => {
  const existing = await accounts.get(c.id);
  const account = existing ?? new Account(c.id);
  account.deposit(c.amount);
  if (existing === undefined) await accounts.add(account);
  else await accounts.update(account);
  return ok(account.state.balance);
});

/**
 * An application with the deposit handler on Myelin's PostgreSQL persistence, in the same schema as the event store
 * (emptied first). Built only for its own measurement and disposed right after, so that nothing it runs in the
 * background (if anything) weighs on the other cases.
 */
export async function setUpMyelinCommands(): Promise<CommandSubject> {
  const db = postgresDatabase({ connectionString, schema: myelinSchema, max: poolSize });
  await db.exec(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`);
  // Validation off: the twin validates nothing either, and `unchecked` would make it a no-op anyway.
  const app = await createApplication({ validation: false })
    .include(postgresPersistence(db))
    .register(postgresEventSourcedRepository(Accounts, Account, { events: [Deposited] }))
    .handle(deposit)
    .build();
  const { mediator } = app;
  return {
    async operation(caller) {
      const id = nextStream(caller);
      const result = await mediator.execute(new Deposit({ id, amount: 1 }));
      if (!result.ok || result.data !== caller.version + 1) {
        throw new Error(
          `Myelin: a deposit to ${id} at version ${caller.version} answered ${JSON.stringify(result)}`,
        );
      }
      appended(caller, 1);
      return 1;
    },
    async close() {
      // Leave the tables empty, as the other measurements do: the next run starts from a fresh schema anyway.
      await db.exec(`TRUNCATE ${db.schema}.events, ${db.schema}.streams RESTART IDENTITY`);
      await app.dispose();
      await db.close();
    },
  };
}
