// Catch-up and lag of Myelin's projections (issue 4), against a raw `pg` loop reading the same log and against
// Emmett rebuilding the same table projection from its own store holding the same events.
//   raw    a pg loop reading the 200,000-event log in pages of `page`, below the horizon (events/s)
//   noop   a ProjectionDaemon catching up through a projection whose handler does nothing (events/s)
//   table  the same into a table read model, one upsert per event (events/s)
//   emmett Emmett (@event-driven-io/emmett-postgresql) rebuilding that table projection (events/s; see
//          projections/emmett.ts)
//   lag    from a command's commit until a query reading its own write (minPosition) answers from an async read
//          model, at a steady 200 commands/s for 20 s: p50, p99, p99.9 and the largest (ms)
import { mkdir, writeFile } from 'node:fs/promises';
import {
  AggregateRoot,
  command,
  createApplication,
  documents,
  event,
  handler,
  ok,
  projection,
  query,
  type Repository,
  table,
  token,
  unchecked,
} from '@myelin/core';
import {
  type Database,
  ProjectionDaemon,
  postgresEventSourcedRepository,
  postgresPersistence,
  postgresProjections,
  projectionSubscription,
  sqlOf,
} from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import pg from 'pg';
import { connectionString } from './append/workload.ts';
import { emmettRebuild } from './projections/emmett.ts';
import { seedLog } from './seedLog.ts';

const events = Number(process.env.PROJECTION_EVENTS ?? 200_000);
const page = 500;
const Deposited = event('bench.deposited.v1', unchecked<{ account: string; amount: number }>());

async function raw(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const started = performance.now();
  let tx = '0';
  let seq = '0';
  let read = 0;
  for (;;) {
    const { rows } = await client.query<{ tx: string; seq: string; data: unknown }>(
      `SELECT transaction_id::text AS tx, sequence::text AS seq, event_id, stream_id, stream_version, type,
         type_version, data, occurred_at, correlation_id, causation_id, principal FROM ${schema}.events
       WHERE (transaction_id, sequence) > ($1::text::xid8, $2::bigint)
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY transaction_id, sequence LIMIT $3`,
      [tx, seq, page],
    );
    if (rows.length === 0) break;
    read += rows.length;
    const last = rows.at(-1) as { tx: string; seq: string };
    tx = last.tx;
    seq = last.seq;
  }
  const seconds = (performance.now() - started) / 1000;
  await client.end();
  if (read !== events) throw new Error(`raw read ${read} of ${events} events`);
  return Math.round(read / seconds);
}

/** Catches a projection up from the start of the log; events/s until its checkpoint has passed every event. */
async function catchUp(database: Database, p: ReturnType<typeof projection>): Promise<number> {
  const app = await createApplication()
    .include(postgresPersistence(database), postgresProjections([p]))
    .build();
  const subscription = projectionSubscription(p.name, p.version);
  const started = performance.now();
  const daemon = new ProjectionDaemon(app, database, { batchSize: page, pollMs: 50 }).start();
  for (;;) {
    const { rows } = await database.query<{ behind: boolean; started: boolean }>(
      `SELECT EXISTS (SELECT FROM ${database.schema}.events e, ${database.schema}.subscriptions s
         WHERE s.name = $1 AND (e.transaction_id, e.sequence) > (s.transaction_id, s.sequence)) AS behind,
         EXISTS (SELECT FROM ${database.schema}.subscriptions WHERE name = $1) AS started`,
      [subscription],
    );
    if (rows[0]?.started === true && !rows[0].behind) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  await daemon.stop();
  await app.dispose();
  return Math.round(events / seconds);
}

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
const Accounts = token<Repository<Account>>('bench.Accounts');
const Deposit = command('bench.deposit', unchecked<{ account: string }>()).returns<void>();
const Balance = query('bench.balance', unchecked<{ account: string }>()).returns<{
  balance: number;
} | null>();

/**
 * Commands at a steady `rate` for `seconds`; for each, the time from its commit until a query reading its own write
 * (`minPosition`) answers: what a client waiting to see its command in an async read model waits.
 */
async function lag(database: Database, rate = 200, seconds = 20): Promise<Lag> {
  await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
  const Balances = documents<{ balance: number }>('lag-balances');
  const balances = projection(Balances).on(Deposited, async (e, docs) => {
    const current = await docs.get(e.account);
    await docs.put(e.account, { balance: (current?.balance ?? 0) + e.amount });
  });
  const app = await createApplication()
    .include(postgresPersistence(database), postgresProjections([balances]))
    .register(postgresEventSourcedRepository(Accounts, Account, { events: [Deposited] }))
    .handle(
      handler(Deposit, { accounts: Accounts }, async (c, { accounts }) => {
        const found = await accounts.get(c.account);
        const account = found ?? new Account(c.account);
        account.deposit(1);
        await (found === undefined ? accounts.add(account) : accounts.update(account));
        return ok(undefined);
      }),
      handler(Balance, { balances: Balances }, async (q, deps) =>
        ok((await deps.balances.get(q.account)) ?? null),
      ),
    )
    .build();
  const daemon = new ProjectionDaemon(app, database, { batchSize: page }).start();
  const lags: number[] = [];
  const reads: Promise<void>[] = [];
  const deposited = new Map<string, number>();
  /** Reads that answered before their own write was in the read model: a broken minPosition, not a fast one. */
  const early: string[] = [];
  const interval = 1000 / rate;
  const start = performance.now();
  const warmUpMs = 1000;
  for (let i = 0; performance.now() - start < warmUpMs + seconds * 1000; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const account = `acct-${i % 50}`;
    const result = await app.mediator.execute(new Deposit({ account }));
    if (!result.ok || result.position === undefined) continue;
    const committed = performance.now();
    // The commands run one at a time, so the balance after this one is known: a read of its own write shows it (or
    // more, when later deposits were projected before the read ran).
    const expected = (deposited.get(account) ?? 0) + 1;
    deposited.set(account, expected);
    // The first second warms up (the daemon takes its lease and builds the new version, the pool opens, the JIT
    // compiles): its commands wait for the start-up, which is not the lag at a steady rate. Its queries run too,
    // untimed: left out, the query path met its first reads (its pool connections opened, its statements
    // prepared, its code compiled) in the first timed ones, 50-120 ms of lag in the run's first 200 ms.
    const timed = committed - start >= warmUpMs;
    reads.push(
      app.mediator.execute(new Balance({ account }), { minPosition: result.position }).then((read) => {
        const balance = read.ok ? (read.data?.balance ?? 0) : undefined;
        if (balance === undefined || balance < expected) early.push(`${account}: ${balance} < ${expected}`);
        if (!timed) return;
        lags.push(performance.now() - committed);
      }),
    );
  }
  await Promise.all(reads);
  await daemon.stop();
  await app.dispose();
  if (early.length > 0) {
    throw new Error(
      `lag: ${early.length} reads answered before their own write was projected (${early.slice(0, 3).join('; ')})`,
    );
  }
  lags.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? 0) * 10) / 10;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1), samples: lags.length };
}

interface Lag {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly samples: number;
}

export async function main(): Promise<void> {
  const database = postgresDatabase({ connectionString, schema: 'bench_projections', max: 8 });
  try {
    await seedLog(database, {
      type: Deposited.type,
      count: events,
      prefix: 'acct',
      dataSql: `jsonb_build_object('account', 'acct-' || (g / 10), 'amount', 1)`,
    });
    console.log(`projections: ${events} events in the log, pages of ${page}`);
    const rawRate = await raw(database.schema);
    const noop = await catchUp(
      database,
      projection(documents<Record<string, never>>('noop')).on(Deposited, () => {}),
    );
    const balances = table<{ account: string; balance: number }>('balances', {
      columns: 'account text PRIMARY KEY, balance integer NOT NULL',
      key: ['account'],
    });
    const tableRate = await catchUp(
      database,
      projection(balances).on(Deposited, async (e, t) => {
        const { table, query: run } = sqlOf(t);
        await run(
          `INSERT INTO ${table} (account, balance) VALUES ($1, $2)
           ON CONFLICT (account) DO UPDATE SET balance = ${table}.balance + EXCLUDED.balance`,
          [e.account, e.amount],
        );
      }),
    );
    const emmett = await emmettRebuild(connectionString, events, page);
    const { p50, p99, p999, max, samples } = await lag(database);
    console.log(
      '| raw | noop | noop/raw (target ≥ 0.75) | table | emmett | table/emmett (target ≥ 2) | lagP50Ms | lagP99Ms (target ≤ 10) | lagP999Ms | lagMaxMs |',
    );
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(
      `| ${rawRate} | ${noop} | ${(noop / rawRate).toFixed(2)} | ${tableRate} | ${emmett} | ${(tableRate / emmett).toFixed(2)} | ${p50} | ${p99} | ${p999} | ${max} |`,
    );
    console.log(`(lag: ${samples} commands at 200/s)`);
    if (events === 200_000) {
      const file = new URL('../results/projections.json', import.meta.url);
      await mkdir(new URL('.', file), { recursive: true });
      const results = {
        raw: rawRate,
        noop,
        table: tableRate,
        emmett,
        lagP50Ms: p50,
        lagP99Ms: p99,
        lagP999Ms: p999,
        lagMaxMs: max,
      };
      await writeFile(
        file,
        `${JSON.stringify({ unit: 'events/s and ms', events, page, results }, null, 2)}\n`,
      );
    } else {
      console.log(`\n${events} events (not 200,000): results/projections.json not written`);
    }
  } finally {
    await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`).catch(() => {});
    await database.close();
  }
}
