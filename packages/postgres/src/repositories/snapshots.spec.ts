import {
  AggregateRoot,
  command,
  createApplication,
  event,
  handler,
  notFound,
  ok,
  query,
  type Repository,
  token,
  unchecked,
  upcaster,
} from '@myelin/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresPersistence } from '../postgresPersistence.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { postgresEventSourcedRepository } from './eventSourcedRepository.ts';

// Version 2 of the event carries cents; version 1 (stored earlier) carried a decimal amount.
const Deposited = event('snap.deposited', unchecked<{ cents: number }>(), { version: 2 });
type Deposited = InstanceType<typeof Deposited>;
type State = { cents: number; history: number[] };

class Account extends AggregateRoot<State, Deposited> {
  constructor(id: string) {
    super(id, { cents: 0, history: [] });
  }
  deposit(cents: number): void {
    this.raise(new Deposited({ cents }));
  }
  protected override apply(state: State, e: Deposited): State {
    return { cents: state.cents + e.cents, history: [...state.history, e.cents] };
  }
}

const Deposit = command('snap.deposit', unchecked<{ id: string; cents: number }>()).returns<void>();
const Read = query('snap.read', unchecked<{ id: string }>()).returns<{ state: State; version: number }>();
const Accounts = token<Repository<Account>>('Accounts');

describe.each(engines)('event-sourced snapshots and upcasting on $name', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open();
  });
  afterAll(() => test.drop());

  const build = (stream: string, snapshotEvery?: number) =>
    createApplication()
      .include(
        postgresPersistence(test.database, {
          upcasters: [
            upcaster(Deposited, 1, (old: { amount: number }) => ({ cents: Math.round(old.amount * 100) })),
          ],
        }),
      )
      .register(
        postgresEventSourcedRepository(Accounts, Account, {
          events: [Deposited],
          stream,
          ...(snapshotEvery === undefined ? {} : { snapshotEvery }),
        }),
      )
      .handle(
        handler(Deposit, { accounts: Accounts }, async (c, { accounts }) => {
          const account = (await accounts.get(c.id)) ?? new Account(c.id);
          account.deposit(c.cents);
          await (account.version === 0 ? accounts.add(account) : accounts.update(account));
          return ok(undefined);
        }),
        handler(Read, { accounts: Accounts }, async (q, { accounts }) => {
          const account = await accounts.get(q.id);
          return account ? ok({ state: account.state, version: account.version }) : notFound('Account', q.id);
        }),
      )
      .build();

  it('rebuilds from snapshot + tail exactly as from all events, with a snapshot every N events', async () => {
    const stream = `Snap${crypto.randomUUID().slice(0, 6)}`;
    await using snapshotting = await build(stream, 4);
    await using plain = await build(stream);
    for (let i = 1; i <= 11; i++) await snapshotting.mediator.execute(new Deposit({ id: 'a', cents: i }));
    const s = test.database.schema;
    const { rows } = await test.database.query<{ version: number }>(
      `SELECT version FROM ${s}.snapshots WHERE stream_id = $1`,
      [`${stream}-a`],
    );
    expect(rows).toEqual([{ version: 8 }]);
    const fromSnapshot = await snapshotting.mediator.execute(new Read({ id: 'a' }));
    const fromEvents = await plain.mediator.execute(new Read({ id: 'a' }));
    expect(fromSnapshot).toEqual(fromEvents);
    expect(fromSnapshot.ok && fromSnapshot.data).toEqual({
      state: { cents: 66, history: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] },
      version: 11,
    });
    // The snapshot is really used: with the events it covers gone, the state still comes back whole.
    await test.database.query(`DELETE FROM ${s}.events WHERE stream_id = $1 AND stream_version <= 8`, [
      `${stream}-a`,
    ]);
    expect(await snapshotting.mediator.execute(new Read({ id: 'a' }))).toEqual(fromEvents);
  });

  it('upcasts events stored at an older version when rebuilding an aggregate', async () => {
    const stream = `Up${crypto.randomUUID().slice(0, 6)}`;
    const s = test.database.schema;
    await test.database.query(
      `WITH st AS (INSERT INTO ${s}.streams (stream_id, version) VALUES ($1, 1))
       INSERT INTO ${s}.events (event_id, stream_id, stream_version, type, type_version, data, occurred_at, correlation_id)
       VALUES ($2, $1, 1, 'snap.deposited', 1, '{"amount": 12.34}', now(), 'c')`,
      [`${stream}-a`, crypto.randomUUID()],
    );
    await using app = await build(stream);
    await app.mediator.execute(new Deposit({ id: 'a', cents: 66 }));
    const result = await app.mediator.execute(new Read({ id: 'a' }));
    expect(result.ok && result.data).toEqual({ state: { cents: 1300, history: [1234, 66] }, version: 2 });
  });
});
