// The Myelin side: an application as one would write it. An event-sourced Account aggregate on PostgreSQL, a
// Deposit command (zod schema, validated by the mediator's validation behavior), a handler that loads or opens
// the account, deposits and hands it back to the repository, the unit of work committing the append; a
// GetAccount query reading one document of the `account-balances` read model. Both served by @myelin/http's
// `createServer` with its defaults (security headers, OpenAPI, health, idempotency keys on request), logger off.
import {
  AggregateRoot,
  command,
  createApplication,
  documents,
  event,
  handler,
  metrics,
  notFound,
  ok,
  projection,
  query,
  type Repository,
  token,
  tracing,
} from '@myelin/core';
import { createServer, get, post, routes, type ServerOptions } from '@myelin/http';
import { postgresEventSourcedRepository, postgresPersistence, postgresProjections } from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  type AccountBalance,
  amountLimits,
  balancesModel,
  connectionString,
  type DepositResult,
  depositedType,
  idLimits,
  myelinSchema,
  poolSize,
} from './workload.ts';

const Deposited = event(
  depositedType,
  z.object({ accountId: z.string(), amount: z.number().int().min(amountLimits.minimum) }),
);
type AccountState = { balance: number };

class Account extends AggregateRoot<AccountState, InstanceType<typeof Deposited>> {
  constructor(id: string) {
    super(id, { balance: 0 });
  }
  deposit(amount: number): void {
    this.raise(new Deposited({ accountId: this.id, amount }));
  }
  protected override apply(state: AccountState, event: InstanceType<typeof Deposited>): AccountState {
    return { balance: state.balance + event.amount };
  }
}

const Accounts = token<Repository<Account>>('bench.http.Accounts');

const accountId = z.string().min(idLimits.minLength).max(idLimits.maxLength);

export const Deposit = command(
  'bench.http.Deposit',
  z.object({
    id: accountId,
    amount: z.number().int().min(amountLimits.minimum).max(amountLimits.maximum),
  }),
).returns<DepositResult>();

export const GetAccount = query(
  'bench.http.GetAccount',
  z.object({ id: accountId }),
).returns<AccountBalance>();

/** The read model the query reads; an async projection keeps it (its daemon is not run here: see http.ts). */
export const AccountBalances = documents<AccountBalance>(balancesModel);
const accountBalances = projection(AccountBalances).on(Deposited, async (e, docs) => {
  const current = await docs.get(e.accountId);
  await docs.put(e.accountId, {
    id: e.accountId,
    balance: (current?.balance ?? 0) + e.amount,
    version: (current?.version ?? 0) + 1,
  });
});

const deposit = handler(Deposit, { accounts: Accounts }, async (c, { accounts }) => {
  const existing = await accounts.get(c.id);
  const account = existing ?? new Account(c.id);
  account.deposit(c.amount);
  if (existing === undefined) await accounts.add(account);
  else await accounts.update(account);
  return ok({ balance: account.state.balance, version: account.nextVersion });
});

const getAccount = handler(GetAccount, { balances: AccountBalances }, async (q, { balances }) => {
  const balance = await balances.get(q.id);
  return balance === undefined ? notFound('Account', q.id) : ok(balance);
});

export const api = routes({
  deposit: post('/accounts/{id}/deposits', Deposit, { status: 200 }),
  getAccount: get('/accounts/{id}', GetAccount, { problems: [404] }),
});

/**
 * The application and its server; closing the server disposes the application, which closes the database.
 * `options` override createServer's (the benchmark passes none: Myelin's defaults are what is measured).
 */
export async function createMyelinServer(
  options: Omit<ServerOptions, 'app' | 'routes'> = {},
  side: {
    readonly schema?: string;
    /** Instrumented as the pizzeria is: `tracing()` and `metrics()` behaviors, and `@fastify/otel`'s spans. */
    readonly telemetry?: boolean;
  } = {},
): Promise<FastifyInstance> {
  const database = postgresDatabase({ connectionString, schema: side.schema ?? myelinSchema, max: poolSize });
  const app = await createApplication()
    .use(...(side.telemetry === true ? [tracing(), metrics()] : []))
    .include(postgresPersistence(database, { closeOnDispose: true }), postgresProjections([accountBalances]))
    .register(postgresEventSourcedRepository(Accounts, Account, { events: [Deposited] }))
    .handle(deposit, getAccount)
    .build();
  return createServer({
    app,
    routes: api,
    fastify: { logger: false },
    // Uninstrumented means without @fastify/otel too, which createServer uses by default when it is installed (as
    // it is here): the cost the OpenTelemetry cases measure is all of it, not what comes on top of its requests'
    // spans.
    telemetry: side.telemetry === true,
    ...options,
  });
}
