// Scheduled messages (issue 17): how fast a backlog of due messages drains, and how late a message is delivered at
// rest.
//   drain     Myelin: 100,000 scheduled events, all due, drained by PostgresMessageScheduler: each round one
//             statement removes a batch (500) from scheduled_messages and writes them to the log (events/s)
//   raw       the same statement, by hand on a pg client, in a loop until nothing is left (events/s)
//   idle p99  with the scheduler at rest, 300 events scheduled through `Schedule` in commands, due 20 ms apart over
//             six seconds: the time from each one's due time until it is in the log and read by a follower of the
//             commit feed (what a live view or a projection sees), p50, p99 and the largest (ms)
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import {
  command,
  createApplication,
  event,
  handler,
  ok,
  Schedule,
  type StoredEvent,
  unchecked,
} from '@myelin/core';
import {
  commitFeed,
  type Database,
  migrate,
  PostgresMessageScheduler,
  postgresPersistence,
} from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import pg from 'pg';
import { connectionString } from './append/workload.ts';

const messages = Number(process.env.SCHEDULE_MESSAGES ?? 100_000);
const batch = 500;
const idleMessages = 300;
const Reminded = event('bench.reminded.v1', unchecked<{ n: number; due: string }>());
const Remind = command('bench.remind', unchecked<{ n: number; due: string }>()).returns<void>();

/** Schedules `count` events, all due a second ago, on 1000 streams (as timeouts of 1000 instances would be). */
async function seed(sql: { query: (text: string, values?: unknown[]) => Promise<unknown> }, schema: string) {
  await sql.query(
    `INSERT INTO ${schema}.scheduled_messages (id, message_id, kind, type, type_version, payload, due_at, stream_id,
       correlation_id)
     SELECT 's-' || n, 'm-' || n, 'event', $2, 1, jsonb_build_object('n', n), now() - interval '1 second',
       'timeouts-' || (n % 1000), 'bench'
     FROM generate_series(1, $1::int) AS n`,
    [messages, Reminded.type],
  );
}

async function fresh(database: Database): Promise<void> {
  await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
  await migrate(database);
}

/** Whether anything is left: one row read, not a count, so that looking costs the drain (almost) nothing. */
async function anyLeft(database: Database): Promise<boolean> {
  const { rows } = await database.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT FROM ${database.schema}.scheduled_messages) AS any`,
  );
  return rows[0]?.any === true;
}

/** Myelin's scheduler drains the backlog: events per second from its start until the table is empty. */
async function drain(database: Database): Promise<number> {
  await fresh(database);
  await seed(database, database.schema);
  const app = await createApplication()
    .include(postgresPersistence(database, { migrate: false }))
    .build();
  const started = performance.now();
  const scheduler = new PostgresMessageScheduler(app, database, { batchSize: batch }).start();
  while (await anyLeft(database)) await new Promise((resolve) => setTimeout(resolve, 20));
  const seconds = (performance.now() - started) / 1000;
  await scheduler.stop();
  await app.dispose();
  return Math.round(messages / seconds);
}

/** The raw twin: the scheduler's statement for due events, by hand, until it moves nothing. */
async function raw(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    const database = postgresDatabase({ connectionString, schema, max: 2 });
    await migrate(database);
    await database.close();
    await seed(client, schema);
    const s = schema;
    const statement = `WITH due AS (
         DELETE FROM ${s}.scheduled_messages WHERE id IN (
           SELECT id FROM ${s}.scheduled_messages
           WHERE kind = 'event' AND status = 'scheduled' AND due_at <= $1
           ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING *
       ), counts AS (
         SELECT stream_id, count(*)::int AS n FROM due GROUP BY stream_id
       ), moved AS (
         INSERT INTO ${s}.streams AS st (stream_id, version) SELECT stream_id, n FROM counts ORDER BY stream_id
         ON CONFLICT (stream_id) DO UPDATE SET version = st.version + EXCLUDED.version
         RETURNING stream_id, version
       ), written AS (
         INSERT INTO ${s}.events (event_id, stream_id, stream_version, type, type_version, data, occurred_at,
           correlation_id, causation_id, principal)
         SELECT d.message_id, d.stream_id,
           m.version - c.n + row_number() OVER (PARTITION BY d.stream_id ORDER BY d.due_at, d.id),
           d.type, d.type_version, d.payload, $1, d.correlation_id, d.causation_id, d.principal ->> 'subject'
         FROM due d JOIN moved m USING (stream_id) JOIN counts c USING (stream_id)
         ORDER BY d.due_at, d.id
         RETURNING 1
       )
       SELECT count(*)::int AS n FROM written`;
    const started = performance.now();
    for (;;) {
      const { rows } = await client.query<{ n: number }>(statement, [new Date(), batch]);
      if ((rows[0]?.n ?? 0) === 0) break;
    }
    const seconds = (performance.now() - started) / 1000;
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    return Math.round(messages / seconds);
  } finally {
    await client.end();
  }
}

/** At rest: how long after its due time each scheduled event reaches a follower of the log. */
async function idle(database: Database): Promise<{ p50: number; p99: number; max: number }> {
  await fresh(database);
  const app = await createApplication()
    .include(postgresPersistence(database, { migrate: false }))
    .handle(
      handler(Remind, { schedule: Schedule }, async (c, { schedule }) => {
        schedule.send(new Reminded({ n: c.n, due: c.due }), { at: new Date(c.due) });
        return ok(undefined);
      }),
    )
    .build();
  const scheduler = new PostgresMessageScheduler(app, database).start();
  await scheduler.active();
  const delays: number[] = [];
  const following = new AbortController();
  let all: () => void = () => {};
  const done = new Promise<void>((resolve) => (all = resolve));
  await commitFeed(database).follow((events: readonly StoredEvent[]) => {
    const now = Date.now();
    for (const e of events) {
      if (e.metadata.type !== Reminded.type) continue;
      delays.push(now - Date.parse((e.data as { due: string }).due));
      if (delays.length === idleMessages) all();
    }
  }, following.signal);
  const first = Date.now() + 1000;
  for (let n = 0; n < idleMessages; n++) {
    const result = await app.mediator.execute(new Remind({ n, due: new Date(first + n * 20).toISOString() }));
    if (!result.ok) throw new Error(result.problem.detail);
  }
  await done;
  following.abort();
  await scheduler.stop();
  await app.dispose();
  delays.sort((a, b) => a - b);
  const at = (q: number) => delays[Math.min(delays.length - 1, Math.ceil(q * delays.length) - 1)] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: delays.at(-1) ?? 0 };
}

export async function main(): Promise<void> {
  const database = postgresDatabase({ connectionString, schema: 'bench_schedule', max: 8 });
  try {
    const drainPerSec = await drain(database);
    const rawDrainPerSec = await raw('bench_schedule_raw');
    const wait = await idle(database);
    console.log(`schedule: ${messages} due events drained; ${idleMessages} events at rest`);
    console.log(
      '| drain (events/s, target ≥ 5,000) | raw | drain/raw (target ≥ 0.75) | idle p50 ms | idle p99 ms (target < 100) | idle max ms |',
    );
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(
      `| ${drainPerSec} | ${rawDrainPerSec} | ${(drainPerSec / rawDrainPerSec).toFixed(2)} | ${wait.p50} | ${wait.p99} | ${wait.max} |`,
    );
    if (messages === 100_000) {
      const file = new URL('../results/schedule.json', import.meta.url);
      await mkdir(new URL('.', file), { recursive: true });
      const json = {
        unit: { drain: 'events/s', idle: 'ms' },
        messages,
        batch,
        idleMessages,
        results: {
          drainPerSec,
          rawDrainPerSec,
          'drain/raw': Math.round((drainPerSec / rawDrainPerSec) * 100) / 100,
          idleP50Ms: wait.p50,
          idleP99Ms: wait.p99,
          idleMaxMs: wait.max,
        },
        targets: { drainPerSec: 5000, 'drain/raw': 0.75, idleP99Ms: 100 },
        machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown'}`,
      };
      await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
    } else {
      console.log(`\n${messages} messages (not 100,000): results/schedule.json not written`);
    }
  } finally {
    await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`).catch(() => {});
    await database.close();
  }
}
