// Integration events end to end (issue 4): from one service's PostgreSQL log, through NATS JetStream (file storage,
// durable consumer, explicit acks), into another service's PostgreSQL, where an idempotent handler records each.
//   natsDurable  Myelin: IntegrationPublisher → NatsMessageBus → consumeFromBus → an idempotent event handler whose
//                row and inbox entry commit in one transaction, acknowledged after the commit (events/s)
//   raw          the same path by hand with the same drivers, written for speed rather than generality: a pg loop
//                reading the log publishes each page to JetStream at once; the consumer fetches up to a page of
//                messages, records all of them and their inbox entries in one transaction of two statements, then
//                acks them (events/s)
// Both relay the same number of events from a log seeded (and vacuumed) beforehand, after each has relayed a
// small log unmeasured, so that neither pays alone for warming up the process; the clock runs from the publisher's
// start to the last event's commit on the consuming side (for Myelin: seen as the consumer's acknowledgement of
// every message, which follows the commit). Myelin's consumer handles `concurrency` messages at once. Both twins
// run in each of `RELAY_ROUNDS` rounds (5), taking turns at going first; the ratio is the median of the rounds'.
import { mkdir, writeFile } from 'node:fs/promises';
import { consumeFromBus, createApplication, event, eventHandler, unchecked } from '@myelin/core';
import { NatsMessageBus } from '@myelin/nats';
import {
  type Database,
  IntegrationPublisher,
  migrate,
  PostgresUnitOfWorkToken,
  postgresPersistence,
} from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import pg from 'pg';
import { connectionString } from './append/workload.ts';
import { seedLog } from './seedLog.ts';

const measured = Number(process.env.RELAY_EVENTS ?? 50_000);
/** Rounds, each relaying `measured` events through each twin; the figures are medians over them. */
const rounds = Number(process.env.RELAY_ROUNDS ?? 5);
if (!Number.isInteger(rounds) || rounds < 1) {
  throw new Error(`RELAY_ROUNDS must be a positive integer, not ${process.env.RELAY_ROUNDS}`);
}
/** Events each twin relays first, unmeasured. */
const warmUp = 5000;
const servers = process.env.NATS_URL ?? '127.0.0.1:4222';
const page = 500;
// As many messages at once as the raw twin holds (a page). When a group commit carried at most 256, 256 at once
// left the consumer nothing to gather while a group committed, so that every other transaction carried a handful
// of events (in one run: 207 of 414 carried one); 500 filled two groups. A group now carries up to 512 commits, so
// a burst of 500 commits in one transaction (about a tenth less PostgreSQL CPU per event): the overlap of a group
// writing while the previous one commits has little to do here.
const concurrency = page;
const Relayed = event('bench.relayed.v1', unchecked<{ n: number }>(), { integration: true });

async function received(database: Database): Promise<number> {
  const { rows } = await database.query<{ n: number }>(
    `SELECT count(*)::integer AS n FROM ${database.schema}.received`,
  );
  return rows[0]?.n ?? 0;
}

/** How far the stream's one consumer has acknowledged every message (its ack floor), once it exists. */
async function acknowledged(jsm: JetStreamManager, stream: string): Promise<number> {
  const consumers = await jsm.consumers.list(stream).next();
  return consumers[0]?.ack_floor.stream_seq ?? 0;
}

async function until(check: () => Promise<boolean>, what: string, ms = 600_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`relay benchmark: ${what} not reached in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One twin's run: events/s, and this process's CPU time per event (user + system, both sides of the relay). */
interface Run {
  readonly rate: number;
  readonly cpuMicros: number;
}

/** What a run measured, from its start (`performance.now()` and `process.cpuUsage()` then). */
function measuredSince(started: number, cpu: NodeJS.CpuUsage, events: number): Run {
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { rate: Math.round(events / seconds), cpuMicros: Math.round((used.user + used.system) / events) };
}

async function myelin(source: Database, target: Database, id: string, events: number): Promise<Run> {
  await target.exec(`DROP SCHEMA IF EXISTS ${target.schema} CASCADE`);
  await migrate(target);
  await target.exec(`CREATE TABLE ${target.schema}.received (event_id text PRIMARY KEY, n integer NOT NULL)`);
  const nats = {
    servers,
    stream: `BENCH_${id}`,
    subjectPrefix: `b${id}.events`,
    deadLetterPrefix: `b${id}.dead`,
  };
  const publishing = await NatsMessageBus.connect({ ...nats, service: 'orders' });
  const consuming = await NatsMessageBus.connect({ ...nats, service: 'kitchen', concurrency });
  const record = eventHandler(
    { name: 'record', idempotent: true },
    Relayed,
    { work: PostgresUnitOfWorkToken },
    (e, { work }, context) => {
      // A row per event, written as a set with the rows of the deliveries committing beside it.
      work.enlistBatched('bench.received', { id: context.event?.eventId ?? '', n: e.n }, (sql, rows) =>
        sql.query(
          `INSERT INTO ${target.schema}.received (event_id, n) SELECT * FROM unnest($1::text[], $2::int[])`,
          [rows.map((row) => row.id), rows.map((row) => row.n)],
        ),
      );
    },
  );
  const sourceApp = await createApplication().include(postgresPersistence(source)).build();
  const targetApp = await createApplication().include(postgresPersistence(target)).handle(record).build();
  const stop = consumeFromBus(targetApp, consuming, [record]);
  const nc = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const publisher = new IntegrationPublisher(sourceApp, source, publishing, {
    events: [Relayed],
    batchSize: page,
  }).start();
  // Done when the consumer has acknowledged every message, which it does after the handler's commit. (Counting
  // the received rows every 20 ms instead cost the database a scan of the table each time: more than a tenth of
  // this side's database time, which the raw twin, counting in memory, never paid.)
  await until(async () => (await acknowledged(jsm, nats.stream)) >= events, 'every event acknowledged');
  const run = measuredSince(started, cpu, events);
  const count = await received(target);
  if (count !== events) throw new Error(`myelin: ${count} of ${events} events recorded`);
  await publisher.stop();
  stop();
  await consuming.close();
  await publishing.close();
  await sourceApp.dispose();
  await targetApp.dispose();
  for (const stream of [nats.stream, `${nats.stream}_DEAD`]) await jsm.streams.delete(stream);
  await nc.close();
  return run;
}

/** The same relay by hand: what the drivers allow when the code knows its one event type and its one table. */
async function raw(source: Database, schema: string, id: string, events: number): Promise<Run> {
  const client = new pg.Client({ connectionString });
  const target = new pg.Pool({ connectionString, max: 8 });
  await client.connect();
  await target.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.received (event_id text PRIMARY KEY, n integer NOT NULL);
    CREATE TABLE ${schema}.inbox (event_id text PRIMARY KEY)`);
  // As NatsMessageBus does: otherwise nats.js builds two Error objects per publication, for their stacks.
  const nc = await connect({ servers, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = `RAW_${id}`;
  await jsm.streams.add({
    name: stream,
    subjects: [`r${id}.>`],
    storage: StorageType.File,
    duplicate_window: nanos(120_000),
  });
  await jsm.consumers.add(stream, {
    durable_name: 'raw',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
  const consumer = await js.consumers.get(stream, 'raw');
  let recorded = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const publishing = (async () => {
    let tx = '0';
    let seq = '0';
    for (;;) {
      const { rows } = await client.query<{ tx: string; seq: string; event_id: string; data: { n: number } }>(
        `SELECT transaction_id::text AS tx, sequence::text AS seq, event_id, data FROM ${source.schema}.events
         WHERE (transaction_id, sequence) > ($1::text::xid8, $2::bigint)
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY transaction_id, sequence LIMIT $3`,
        [tx, seq, page],
      );
      if (rows.length === 0) return;
      await Promise.all(
        rows.map((row) =>
          js.publish(`r${id}.relayed`, JSON.stringify({ id: row.event_id, data: row.data }), {
            msgID: row.event_id,
          }),
        ),
      );
      const last = rows.at(-1) as { tx: string; seq: string };
      tx = last.tx;
      seq = last.seq;
    }
  })();
  while (recorded < events) {
    const batch = [];
    for await (const message of await consumer.fetch({ max_messages: page, expires: 1000 }))
      batch.push(message);
    if (batch.length === 0) continue;
    const parsed = batch.map((message) => message.json<{ id: string; data: { n: number } }>());
    const db = await target.connect();
    try {
      await db.query('BEGIN');
      await db.query(
        `WITH fresh AS (
           INSERT INTO ${schema}.inbox (event_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING event_id)
         INSERT INTO ${schema}.received (event_id, n)
         SELECT i.id, i.n FROM unnest($1::text[], $2::int[]) AS i(id, n) JOIN fresh ON fresh.event_id = i.id`,
        [parsed.map((p) => p.id), parsed.map((p) => p.data.n)],
      );
      await db.query('COMMIT');
    } finally {
      db.release();
    }
    for (const message of batch) message.ack();
    recorded += batch.length;
  }
  const run = measuredSince(started, cpu, events);
  await publishing;
  const { rows } = await target.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${schema}.received`);
  if (rows[0]?.n !== events) throw new Error(`raw: ${rows[0]?.n} of ${events} events recorded`);
  await jsm.streams.delete(stream);
  await nc.close();
  await client.end();
  await target.query(`DROP SCHEMA ${schema} CASCADE`);
  await target.end();
  return run;
}

/** A fresh log of `count` events, vacuumed. */
async function seed(source: Database, count: number): Promise<void> {
  await seedLog(source, { type: Relayed.type, count, prefix: 'r', dataSql: `jsonb_build_object('n', g)` });
  // The first reader of rows just written sets their hint bits (writing each page again) and autovacuum soon
  // comes to the new table: both would fall on whichever twin runs first. Done here, before either.
  await source.exec(`VACUUM ANALYZE ${source.schema}.events`);
}

/** The middle value (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export async function main(): Promise<void> {
  const source = postgresDatabase({ connectionString, schema: 'bench_relay_source', max: 8 });
  const target = postgresDatabase({ connectionString, schema: 'bench_relay_target', max: 8 });
  const id = Date.now().toString(36);
  try {
    // Each twin relays a small log first, unmeasured: whichever ran first in a fresh process paid for compiling
    // the drivers' code they share (and for connections and caches), and ran slower for it. The raw twin, run
    // first, measured 4,500-9,300 events/s in three runs where it measured 13,300-17,200 second.
    await seed(source, warmUp);
    await myelin(source, target, `${id}w`, warmUp);
    await raw(source, 'bench_relay_raw', `${id}w`, warmUp);
    console.log(
      `relay: ${measured} integration events in the log, for each twin, in each of ${rounds} rounds`,
    );
    // Each twin relays a log seeded just before, for it, so that what the database still does after a seeding
    // (writing it out, among others) falls on both alike. The twins take turns at going first, and each round's
    // ratio compares two runs a few seconds apart: one run each, as before, gave ratios of 0.60 to 0.95 with the
    // same code, the raw twin's rate alone moving between 15,500 and 23,100 events/s from run to run.
    const twins = {
      natsDurable: (round: number) => myelin(source, target, `${id}r${round}`, measured),
      raw: (round: number) => raw(source, 'bench_relay_raw', `${id}r${round}`, measured),
    };
    const runs: Record<keyof typeof twins, Run>[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['natsDurable', 'raw'] as const) : (['raw', 'natsDurable'] as const);
      const run: Partial<Record<keyof typeof twins, Run>> = {};
      for (const twin of order) {
        await seed(source, measured);
        run[twin] = await twins[twin](round);
      }
      const { natsDurable, raw: rawTwin } = run as Record<keyof typeof twins, Run>;
      runs.push({ natsDurable, raw: rawTwin });
      console.log(
        `  round ${round + 1}: natsDurable ${natsDurable.rate}/s (${natsDurable.cpuMicros} µs CPU/event), raw ${rawTwin.rate}/s (${rawTwin.cpuMicros} µs), ratio ${(natsDurable.rate / rawTwin.rate).toFixed(2)}`,
      );
    }
    const ratios = runs.map((run) => run.natsDurable.rate / run.raw.rate);
    const medianRun = (of: readonly Run[]): Run => ({
      rate: Math.round(median(of.map((run) => run.rate))),
      cpuMicros: Math.round(median(of.map((run) => run.cpuMicros))),
    });
    const natsDurable = medianRun(runs.map((run) => run.natsDurable));
    const rawRun = medianRun(runs.map((run) => run.raw));
    const ratio = median(ratios);
    console.log(
      '\n| natsDurable (events/s, target ≥ 10,000) | raw | natsDurable/raw (target ≥ 0.75) | rounds | Node CPU µs/event: natsDurable | raw |',
    );
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(
      `| ${natsDurable.rate} | ${rawRun.rate} | ${ratio.toFixed(3)} ${ratio >= 0.75 ? 'met' : 'not met'} | ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} | ${natsDurable.cpuMicros} | ${rawRun.cpuMicros} |`,
    );
    console.log("(rates and CPU: medians over the rounds; the ratio: the median of the rounds' ratios)");
    if (measured === 50_000 && rounds >= 3) {
      const file = new URL('../results/relay.json', import.meta.url);
      await mkdir(new URL('.', file), { recursive: true });
      const json = {
        unit: 'events/s',
        events: measured,
        concurrency,
        rounds,
        results: { natsDurable: natsDurable.rate, raw: rawRun.rate },
        // The median of the rounds' natsDurable/raw ratios (each round ran both twins, a few seconds apart).
        ratio: Number(ratio.toFixed(3)),
        // This process's CPU time per event (it runs both ends of the relay; PostgreSQL and NATS are not in it).
        cpuMicrosPerEvent: { natsDurable: natsDurable.cpuMicros, raw: rawRun.cpuMicros },
      };
      await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
    } else {
      console.log(
        `\n${measured} events in ${rounds} round(s) (not 50,000 in 3 or more): results/relay.json not written`,
      );
    }
  } finally {
    for (const database of [source, target]) {
      await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`).catch(() => {});
      await database.close();
    }
  }
}
