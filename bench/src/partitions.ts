// Partitioned projections (issue 18): one projection whose handler costs about 200 µs of CPU per event, built from
// a 200,000-event log (8 partitions, by a hash of the stream id) by projector processes.
//   one              one projector process builds it (events/s, from "go" until every partition has read the log)
//   two              two projector processes build the next version of it together (events/s, the same way)
//   killRebalanceMs  of the two, one is killed (SIGKILL): the time until the survivor holds all 8 partitions
//   joinRebalanceMs  a new process joins the survivor: the time from its start until each holds 4
//   raw              the twin of one: a loop by hand on a pg client in this process, reading the log in pages of
//                    100, spinning the same CPU and writing the same row per event, a page and its checkpoint in
//                    one transaction (events/s): what one process can do with the framework taken away
// Every process is a child of this one, with the same options (the defaults: lease retry 1 s), so that one and two
// differ only in the number of processes. The machine's cores bound the speed-up: each process spins a core, and
// PostgreSQL needs some too.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Database } from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import pg from 'pg';
import { connectionString } from './append/workload.ts';
import { Counted, cpuMicrosPerEvent, partitions, work } from './partitions/workload.ts';
import { seedLog } from './seedLog.ts';

const events = Number(process.env.PARTITION_EVENTS ?? 200_000);
const projector = fileURLToPath(new URL('./partitions/projector.ts', import.meta.url));

interface Projector {
  readonly child: ChildProcess;
  /** How many partitions it holds, and since when (epoch ms). */
  held: number;
  heldAt: number;
  startedAt: number;
  /** Resolves at each change of what it reports. */
  changed: () => Promise<void>;
}

/** Starts a projector process of `version` and waits until it is ready (built, migrated, daemon not started). */
async function start(schema: string, version: number): Promise<Projector> {
  const child = spawn(
    process.execPath,
    ['--conditions=@myelin/source', projector, connectionString, schema, String(version)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let wake: () => void = () => {};
  const self: Projector = {
    child,
    held: 0,
    heldAt: 0,
    startedAt: 0,
    changed: () => new Promise((resolve) => (wake = resolve)),
  };
  let ready: () => void = () => {};
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      const [word, a, b] = line.split(' ');
      if (word === 'ready') ready();
      if (word === 'started') self.startedAt = Number(a);
      if (word === 'held') {
        self.held = Number(a);
        self.heldAt = Number(b);
      }
      wake();
    }
  });
  child.on('exit', () => wake());
  await isReady;
  return self;
}

function go(p: Projector): void {
  p.child.stdin?.write('go\n');
}

async function until(ps: readonly Projector[], check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`partitions benchmark: ${what} not reached`);
    await Promise.race([...ps.map((p) => p.changed()), new Promise((r) => setTimeout(r, 200))]);
  }
}

async function stop(p: Projector): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((resolve) => p.child.once('exit', resolve));
  p.child.stdin?.end();
  await exited;
}

/** Waits until every partition of `version` has read the whole log and the version serves; returns when (ms). */
async function caughtUp(database: Database, version: number): Promise<number> {
  const s = database.schema;
  const base = `projection:bench-partitioned:v${version}`;
  for (;;) {
    const { rows } = await database.query<{ done: boolean }>(
      `SELECT (SELECT status FROM ${s}.projections WHERE name = 'bench-partitioned' AND version = $2) = 'active'
         AND (SELECT count(*) FROM ${s}.subscriptions
              WHERE starts_with(name, $1 || ':p') AND (transaction_id, sequence) >= (
                SELECT transaction_id, sequence FROM ${s}.events ORDER BY transaction_id DESC, sequence DESC LIMIT 1)
             ) = $3 AS done`,
      [base, version, partitions],
    );
    if (rows[0]?.done === true) return Date.now();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The raw twin of one process: the same work by hand, on one client. */
async function raw(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`DROP TABLE IF EXISTS ${schema}.raw_streams`);
    await client.query(
      `CREATE TABLE ${schema}.raw_streams (stream text PRIMARY KEY, events integer NOT NULL, last integer NOT NULL)`,
    );
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.raw_checkpoint (tx xid8 NOT NULL, seq bigint NOT NULL)`,
    );
    await client.query(`INSERT INTO ${schema}.raw_checkpoint VALUES ('0', 0)`);
    const began = Date.now();
    let after: [string, string] = ['0', '0'];
    for (;;) {
      const { rows } = await client.query<{
        tx: string;
        seq: string;
        stream_id: string;
        v: number;
        data: { n: number };
      }>({
        name: 'raw-read',
        text: `SELECT transaction_id::text AS tx, sequence::text AS seq, stream_id, stream_version AS v, data
               FROM ${schema}.events WHERE (transaction_id, sequence) > ($1::text::xid8, $2::bigint)
               ORDER BY transaction_id, sequence LIMIT 100`,
        values: after,
      });
      if (rows.length === 0) break;
      await client.query('BEGIN');
      await client.query('SET LOCAL synchronous_commit = off'); // as the daemon's batches
      for (const row of rows) {
        work(cpuMicrosPerEvent);
        await client.query({
          name: 'raw-upsert',
          text: `INSERT INTO ${schema}.raw_streams (stream, events, last) VALUES ($1, $2, $3)
                 ON CONFLICT (stream) DO UPDATE SET events = EXCLUDED.events, last = EXCLUDED.last`,
          values: [row.stream_id, row.v, row.data.n],
        });
      }
      const last = rows.at(-1) as (typeof rows)[number];
      after = [last.tx, last.seq];
      await client.query({
        name: 'raw-checkpoint',
        text: `UPDATE ${schema}.raw_checkpoint SET tx = $1::text::xid8, seq = $2::bigint`,
        values: after,
      });
      await client.query('COMMIT');
    }
    return Math.round(events / ((Date.now() - began) / 1000));
  } finally {
    await client.end();
  }
}

/** Fails unless the read model serving has every stream whole: ten events, the last numbered as seeded. */
async function wrong(database: Database): Promise<void> {
  const { rows } = await database.query<{ streams: number; wrong: number }>(
    `SELECT count(*)::int AS streams,
       count(*) FILTER (WHERE events <> 10 OR last <> (substring(stream FROM 9)::int * 10 + 9))::int AS wrong
     FROM ${database.schema}.rm_bench_partitioned`,
  );
  const { streams, wrong } = rows[0] ?? { streams: 0, wrong: 0 };
  if (streams !== events / 10 || wrong > 0) {
    throw new Error(`partitions benchmark: ${streams} streams in the read model, ${wrong} wrong`);
  }
}

/** The machine's CPU time so far, busy and in all, over every core (ms). */
function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/**
 * Builds `version` with `count` processes started together; events/s from "go" until caught up, and how busy the
 * machine's cores were meanwhile (the projectors, PostgreSQL and all).
 */
async function build(
  database: Database,
  version: number,
  count: number,
): Promise<[number, Projector[], number]> {
  const ps: Projector[] = [];
  for (let i = 0; i < count; i++) ps.push(await start(database.schemaName, version));
  const before = cpuTimes();
  const began = Date.now();
  for (const p of ps) go(p);
  const ended = await caughtUp(database, version);
  const after = cpuTimes();
  const busy = (after.busy - before.busy) / (after.total - before.total);
  return [Math.round(events / ((ended - began) / 1000)), ps, busy];
}

export async function main(): Promise<void> {
  const database = postgresDatabase({ connectionString, schema: 'bench_partitions', max: 4 });
  try {
    console.log(
      `\nPartitioned projection: ${events} events over ${events / 10} streams, ${partitions} partitions, ` +
        `${cpuMicrosPerEvent} µs of CPU per event; ${cpus().length} cores`,
    );
    await seedLog(database, {
      type: Counted.type,
      count: events,
      prefix: 'counter',
      dataSql: `jsonb_build_object('n', g)`,
    });
    await database.exec(`ANALYZE ${database.schema}.events`);

    const twin = await raw(database.schema);
    console.log(`  raw (one process, by hand) ${twin} events/s`);
    const [one, [solo], oneBusy] = await build(database, 1, 1);
    const percent = (busy: number) => `${Math.round(busy * 100)}%`;
    console.log(
      `  one process   ${one} events/s (${(one / twin).toFixed(2)}× raw; cores ${percent(oneBusy)} busy)`,
    );
    await stop(solo as Projector);

    const [two, pair, twoBusy] = await build(database, 2, 2);
    const [survivor, victim] = pair as [Projector, Projector];
    console.log(
      `  two processes ${two} events/s (${(two / one).toFixed(2)}× one; cores ${percent(twoBusy)} busy)`,
    );
    await until(pair, () => survivor.held === 4 && victim.held === 4, 'four partitions each');

    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await until([survivor], () => survivor.held === partitions, 'the survivor holding every partition');
    const killRebalanceMs = survivor.heldAt - killedAt;
    console.log(`  a process killed: the survivor holds all ${partitions} after ${killRebalanceMs} ms`);

    const joiner = await start(database.schemaName, 2);
    go(joiner);
    await until([survivor, joiner], () => survivor.held === 4 && joiner.held === 4, 'four partitions each');
    await until([joiner], () => joiner.startedAt > 0, 'the joiner to report its start');
    const joinRebalanceMs = Math.max(survivor.heldAt, joiner.heldAt) - joiner.startedAt;
    console.log(`  a process joined: four partitions each after ${joinRebalanceMs} ms`);
    await Promise.all([stop(survivor), stop(joiner)]);

    await wrong(database);
    if (events === 200_000) {
      const file = new URL('../results/partitions.json', import.meta.url);
      await mkdir(new URL('.', file), { recursive: true });
      const json = {
        unit: 'events/s',
        events,
        partitions,
        cpuMicrosPerEvent,
        cores: cpus().length,
        results: { one, two, joinRebalanceMs, killRebalanceMs, raw: twin },
        coresBusy: { one: Number(oneBusy.toFixed(2)), two: Number(twoBusy.toFixed(2)) },
        ratios: { twoOverOne: Number((two / one).toFixed(2)), oneOverRaw: Number((one / twin).toFixed(2)) },
      };
      await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
      console.log('  written to results/partitions.json');
    } else {
      console.log(`\n${events} events (not 200,000): results/partitions.json not written`);
    }
  } finally {
    await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`).catch(() => {});
    await database.close();
  }
}
