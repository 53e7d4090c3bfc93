// The HTTP boundary under load (issue 5): Myelin's routes (request → message, validation, handler, event-sourced
// save on PostgreSQL, commit → response) against a raw Fastify twin doing the same work by hand, driven by
// autocannon with 50 connections.
//   command  POST /accounts/{id}/deposits {"amount":1}: load or open an event-sourced account, deposit, append
//            the event with the expected-version check (see ./http/myelin.ts and ./http/raw.ts)
//   query    GET /accounts/{id}: one document of the account-balances read model, a random one of 10,000
// The command route also runs on Myelin with OpenTelemetry's instrumentation on (otelApi: the API alone, no SDK;
// otelSdk: an SDK sampling everything), to measure what instrumentation costs; and on the raw twin instrumented by
// hand with the same SDK, spans and histogram (rawOtelSdk): what the SDK costs this API with no framework at all,
// the floor that otelSdk/myelin is to be read against.
// Figures: requests/s (2xx responses over the run's duration), autocannon's p99 latency, and the server process's CPU
// time per response.
//
// Per route, every side is warmed up first, then the sides are measured in rounds: each round runs every side once,
// the order rotated by one every round, and a side's figures are its medians over the rounds; a ratio is the median
// of the per-round ratios. Run one after the other for 10 s each, the sides measured first did worse for it, and the
// machine's drift (2 cores, PostgreSQL on them) fell on whichever side ran at the time: otelApi/myelin came out 1.33
// and 0.92 in two consecutive runs, against a goal of 0.98.
//
// Each server runs in a child process of its own (forked with this Node and `--conditions=@myelin/source`), and
// autocannon runs here, in the parent: the machine has 2 cores, and a load generator in the server's process would
// take its event loop's time and be counted against the server. Here the server has a core's worth of event loop
// to itself, sharing the machine with autocannon and PostgreSQL alike on all sides. All the children are started
// at once and stay up; only the one under load does any work.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { migrations } from '@myelin/postgres';
import autocannon from 'autocannon';
import pg from 'pg';
import { inRotatedRounds, median, pairedRatio } from './harness.ts';
import type { ServerMessage, ServerName } from './http/server.ts';
import {
  accountOf,
  balancesModel,
  connectionString,
  depositBody,
  myelinSchema,
  poolSize,
  rawSchema,
  schemaOf,
  seedDocumentsSql,
  seededAccounts,
  seededId,
} from './http/workload.ts';

const connections = 50;
// `BENCH_QUICK=1` for a smoke run of a few seconds; its figures are not worth keeping, so it writes no results.
const quick = process.env.BENCH_QUICK === '1';
const warmupSeconds = quick ? 1 : 2;
// Rounds of 3 s, twice as many as a route has sides (at least eight), so that each side runs at each place of the
// order twice: ten on the command route (five sides), eight on the query route; the whole bench takes about four
// minutes. Each round's figures come from about 6,000 deposits per side (2,000/s) or 20,000 reads.
const roundSeconds = quick ? 1 : 3;
const roundsOf = (sides: number) => (quick ? 2 : Math.max(8, 2 * sides));

type RouteName = 'command' | 'query';

/** The least acceptable myelin/raw throughput ratio of each route. */
const targets: Record<RouteName, number> = { command: 0.6, query: 0.7 };

interface Server {
  readonly name: ServerName;
  readonly url: string;
  /** The CPU time (user and system) the server's process has used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * `BENCH_CPU_PROF=<folder>` writes each server's CPU profile there (`<side>.cpuprofile`), to see where a side's
 * time goes under the same load as it is measured.
 */
function profiling(name: ServerName): string[] {
  const folder = process.env.BENCH_CPU_PROF;
  return folder ? ['--cpu-prof', `--cpu-prof-dir=${folder}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
}

/** Forks a child serving one side and waits until it listens. */
async function startServer(name: ServerName): Promise<Server> {
  const child: ChildProcess = fork(new URL('./http/server.ts', import.meta.url), [name], {
    execArgv: ['--conditions=@myelin/source', ...profiling(name)],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: ServerMessage) => {
      if ('listening' in message) resolve(message.listening);
      else reject(new Error(`http: the ${name} server failed to start:\n${JSON.stringify(message)}`));
    });
    child.once('exit', (code) =>
      reject(new Error(`http: the ${name} server exited (${code}) before listening`)),
    );
  });
  return {
    name,
    url,
    cpuMicros: () =>
      new Promise<number>((resolve, reject) => {
        const answer = (message: ServerMessage) => {
          if (!('cpuMicros' in message)) return;
          child.off('message', answer);
          resolve(message.cpuMicros);
        };
        child.on('message', answer);
        if (!child.send('cpu')) reject(new Error(`http: the ${name} server is gone`));
      }),
    async stop() {
      if (child.exitCode === null && child.connected) child.send('stop');
      const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killed);
    },
  };
}

/** One autocannon run's figures. */
interface Run {
  /** 2xx responses per second over the run. */
  readonly rate: number;
  readonly p99Ms: number;
  /**
   * The server process's CPU time per 2xx response, in microseconds: what the side costs, less sensitive than the
   * rate to what else the machine (autocannon, PostgreSQL, other jobs) is doing at the time.
   */
  readonly cpuMicros: number;
  readonly ok: number;
  readonly failed: number;
}

/** The requests of one run of a route. Deposits go to accounts named after `prefix` (see `accountOf`). */
function requestsOf(
  route: RouteName,
  prefix: string,
): Pick<autocannon.Options, 'method' | 'headers' | 'body' | 'requests'> {
  if (route === 'command') {
    let k = 0;
    return {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: depositBody,
      requests: [
        { setupRequest: (request) => ({ ...request, path: `/accounts/${accountOf(prefix, k++)}/deposits` }) },
      ],
    };
  }
  return {
    method: 'GET',
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          path: `/accounts/${seededId(Math.floor(Math.random() * seededAccounts))}`,
        }),
      },
    ],
  };
}

async function load(server: Server, route: RouteName, seconds: number, prefix: string): Promise<Run> {
  const cpuBefore = await server.cpuMicros();
  const result = await autocannon({
    url: server.url,
    connections,
    duration: seconds,
    ...requestsOf(route, prefix),
  });
  const cpu = (await server.cpuMicros()) - cpuBefore;
  const ok = result['2xx'];
  return {
    rate: ok / result.duration,
    p99Ms: result.latency.p99,
    cpuMicros: cpu / ok,
    ok,
    failed: result.non2xx + result.errors,
  };
}

/** Flushes what earlier runs dirtied, so that no run pays for the checkpoint of another's writes. */
async function checkpoint(): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

/**
 * Measures one route on its sides: each side warmed up first, then `roundsOf` rounds, each running every side once
 * for `roundSeconds`, the order rotated every round, with a `CHECKPOINT` before every run. Answers each side's runs,
 * in round order; counts the deposits answered into `deposits`.
 */
async function measureRoute(
  route: RouteName,
  sides: readonly Server[],
  deposits: ReadonlyMap<ServerName, { ok: number; runs: number }>,
): Promise<Map<ServerName, Run[]>> {
  const counted = (server: Server, run: Run, what: string): Run => {
    if (run.failed > 0)
      console.log(`  ${route}, ${server.name}, ${what}: ${run.failed} requests failed (non-2xx or errors)`);
    const tally = deposits.get(server.name);
    if (route === 'command' && tally !== undefined) {
      tally.ok += run.ok;
      tally.runs++;
    }
    return run;
  };
  const warm: string[] = [];
  for (const server of sides) {
    await checkpoint();
    const run = counted(server, await load(server, route, warmupSeconds, `warm-${server.name}`), 'warm-up');
    warm.push(`${server.name} ${Math.round(run.rate)}/s`);
  }
  console.log(`  ${route}, warm-up: ${warm.join(', ')}`);
  const runs = new Map(sides.map((server): [ServerName, Run[]] => [server.name, []]));
  let line: string[] = [];
  await inRotatedRounds(sides, roundsOf(sides.length), async (server, round) => {
    await checkpoint();
    // Every run deposits to accounts of its own, so that each opens and continues its accounts alike.
    const run = counted(
      server,
      await load(server, route, roundSeconds, `r${round}-${server.name}`),
      `round ${round + 1}`,
    );
    runs.get(server.name)?.push(run);
    line.push(`${server.name} ${Math.round(run.rate)}/s p99 ${run.p99Ms} ms ${Math.round(run.cpuMicros)} µs`);
    if (line.length === sides.length) {
      console.log(`  ${route}, round ${round + 1}: ${line.join(', ')}`);
      line = [];
    }
  });
  return runs;
}

async function expectResponse(
  server: Server,
  what: string,
  request: { readonly path: string; readonly body?: unknown },
  status: number,
  expected?: unknown,
): Promise<void> {
  const response = await fetch(`${server.url}${request.path}`, {
    method: request.body === undefined ? 'GET' : 'POST',
    ...(request.body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(request.body) }),
  });
  const text = await response.text();
  const body = text === '' ? undefined : (JSON.parse(text) as unknown);
  if (
    response.status !== status ||
    (expected !== undefined && JSON.stringify(body) !== JSON.stringify(expected))
  ) {
    throw new Error(
      `http: ${server.name}: ${what} answered ${response.status} ${text}; expected ${status} ${JSON.stringify(expected ?? '')}`,
    );
  }
}

/** Both sides must do the same thing before either is timed: deposit, refuse bad input, read, miss. */
async function check(server: Server): Promise<void> {
  const path = '/accounts/check-1/deposits';
  await expectResponse(server, 'a first deposit', { path, body: { amount: 5 } }, 200, {
    balance: 5,
    version: 1,
  });
  await expectResponse(server, 'a second deposit', { path, body: { amount: 7 } }, 200, {
    balance: 12,
    version: 2,
  });
  await expectResponse(server, 'a deposit of 0', { path, body: { amount: 0 } }, 400);
  await expectResponse(server, 'a deposit of 1.5', { path, body: { amount: 1.5 } }, 400);
  await expectResponse(server, 'a deposit without an amount', { path, body: {} }, 400);
  await expectResponse(server, 'a read of a seeded account', { path: `/accounts/${seededId(3)}` }, 200, {
    id: seededId(3),
    balance: 30,
    version: 10,
  });
  await expectResponse(server, 'a read of an unknown account', { path: '/accounts/nobody' }, 404);
}

async function count(client: pg.Client, schema: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(`SELECT count(*)::integer AS n FROM "${schema}".events`);
  return rows[0]?.n ?? 0;
}

async function serverVersion(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  return rows[0]?.server_version ?? 'unknown';
}

const rawOtelSdkSchema = schemaOf('rawOtelSdk', rawSchema);
const dropSchemas = [
  myelinSchema,
  rawSchema,
  schemaOf('otelApi', myelinSchema),
  schemaOf('otelSdk', myelinSchema),
  rawOtelSdkSchema,
]
  .map((schema) => `DROP SCHEMA IF EXISTS ${schema} CASCADE;`)
  .join(' ');

export async function main(): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const servers: Server[] = [];
  try {
    // Fresh schemas every run, so that repeated runs are comparable: Myelin's is migrated by its application when
    // it is built (in its child), the twin's here, with the same migrations, so its tables and indexes are Myelin's.
    await client.query(dropSchemas);
    for (const schema of [rawSchema, rawOtelSdkSchema]) {
      await client.query(`CREATE SCHEMA ${schema}`);
      for (const migration of migrations) await client.query(migration.sql(`"${schema}"`));
    }

    const [myelin, raw, otelApi, otelSdk, rawOtelSdk] = await Promise.all(
      (['myelin', 'raw', 'otelApi', 'otelSdk', 'rawOtelSdk'] as const).map(startServer),
    );
    if (!myelin || !raw || !otelApi || !otelSdk || !rawOtelSdk)
      throw new Error('http: a server did not start');
    servers.push(myelin, raw, otelApi, otelSdk, rawOtelSdk);

    // The read model the query reads, seeded alike on both sides: Myelin's async projection would keep it from
    // the deposits; its daemon is not run here, so that nothing but the server under load works during a run.
    // The projection is marked active, as its daemon marks it once caught up.
    for (const schema of [
      myelinSchema,
      schemaOf('otelApi', myelinSchema),
      schemaOf('otelSdk', myelinSchema),
    ]) {
      await client.query(seedDocumentsSql(schema, `${balancesModel}@1`));
      await client.query(`UPDATE ${schema}.projections SET status = 'active' WHERE name = $1`, [
        balancesModel,
      ]);
    }
    for (const schema of [rawSchema, rawOtelSdkSchema]) {
      await client.query(seedDocumentsSql(schema, balancesModel));
    }
    await client.query(`ANALYZE ${myelinSchema}.read_documents; ANALYZE ${rawSchema}.read_documents`);

    for (const server of servers) await check(server);

    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`;
    const postgres = await serverVersion(client);
    console.log(`http: Node ${process.version}, ${machine}, PostgreSQL ${postgres}`);
    console.log(
      `per route: ${warmupSeconds} s warm-up per side, then ${roundsOf(5)} (command) or ${roundsOf(2)} (query) rounds of ${roundSeconds} s per side, the order rotated every round; ${connections} connections, pipelining 1; server pools of ${poolSize}`,
    );

    const deposits = new Map<ServerName, { ok: number; runs: number }>(
      (['myelin', 'raw', 'otelApi', 'otelSdk', 'rawOtelSdk'] as const).map((name) => [
        name,
        { ok: 0, runs: 0 },
      ]),
    );
    const measured = {
      command: await measureRoute('command', [myelin, otelApi, otelSdk, raw, rawOtelSdk], deposits),
      query: await measureRoute('query', [raw, myelin], deposits),
    };

    // Every deposit answered 200 was stored, once: the events are at least those answered, and at most as many
    // more as requests were in flight when autocannon stopped each run (it does not wait for their answers).
    for (const [name, schema] of [
      ['myelin', myelinSchema],
      ['raw', rawSchema],
      ['otelApi', schemaOf('otelApi', myelinSchema)],
      ['otelSdk', schemaOf('otelSdk', myelinSchema)],
      ['rawOtelSdk', rawOtelSdkSchema],
    ] as const) {
      const tally = deposits.get(name) as { ok: number; runs: number };
      const stored = (await count(client, schema)) - 2; // the two deposits of `check`
      if (stored < tally.ok || stored > tally.ok + tally.runs * connections) {
        throw new Error(`http: ${name}: ${tally.ok} deposits answered 200, but ${stored} events stored`);
      }
    }

    const runsOf = (route: RouteName, name: ServerName) => measured[route].get(name) as readonly Run[];
    const ratesOf = (route: RouteName, name: ServerName) => runsOf(route, name).map((run) => run.rate);
    /** A side's figures: each its median over the rounds. */
    const figure = (route: RouteName, name: ServerName) => {
      const runs = runsOf(route, name);
      return {
        rate: median(runs.map((run) => run.rate)),
        p99Ms: median(runs.map((run) => run.p99Ms)),
        cpuMicros: median(runs.map((run) => run.cpuMicros)),
      };
    };
    /** The median of the per-round ratios of two sides' rates, and the least and greatest of them. */
    const ratio = (route: RouteName, numerator: ServerName, denominator: ServerName) => {
      const d = ratesOf(route, denominator);
      const perRound = ratesOf(route, numerator).map((rate, round) => rate / (d[round] ?? Number.NaN));
      return {
        value: pairedRatio(ratesOf(route, numerator), d),
        min: Math.min(...perRound),
        max: Math.max(...perRound),
      };
    };
    const ratios = {
      command: {
        'myelin/raw': ratio('command', 'myelin', 'raw'),
        'otelApi/myelin': ratio('command', 'otelApi', 'myelin'),
        'otelSdk/myelin': ratio('command', 'otelSdk', 'myelin'),
        'rawOtelSdk/raw': ratio('command', 'rawOtelSdk', 'raw'),
      },
      query: { 'myelin/raw': ratio('query', 'myelin', 'raw') },
    };

    const results = Object.fromEntries(
      (['command', 'query'] as const).map((route) => {
        const m = figure(route, 'myelin');
        const r = figure(route, 'raw');
        return [
          route,
          {
            myelin: Math.round(m.rate),
            raw: Math.round(r.rate),
            myelinP99Ms: m.p99Ms,
            rawP99Ms: r.p99Ms,
            'myelin/raw': Math.round(ratios[route]['myelin/raw'].value * 100) / 100,
            myelinCpuMicrosPerRequest: Math.round(m.cpuMicros),
            rawCpuMicrosPerRequest: Math.round(r.cpuMicros),
          },
        ];
      }),
    ) as Record<
      RouteName,
      Record<string, number> & {
        myelin: number;
        raw: number;
        myelinP99Ms: number;
        rawP99Ms: number;
        'myelin/raw': number;
        myelinCpuMicrosPerRequest: number;
        rawCpuMicrosPerRequest: number;
      }
    >;

    // What instrumentation costs on the command route, against the same server without it.
    const cost = (name: 'otelApi' | 'otelSdk') => {
      const o = figure('command', name);
      return {
        [name]: Math.round(o.rate),
        [`${name}P99Ms`]: o.p99Ms,
        [`${name}/myelin`]: Math.round(ratios.command[`${name}/myelin`].value * 1000) / 1000,
        [`${name}CpuMicrosPerRequest`]: Math.round(o.cpuMicros),
      };
    };
    const floor = figure('command', 'rawOtelSdk');
    Object.assign(results.command, cost('otelApi'), cost('otelSdk'), {
      rawOtelSdk: Math.round(floor.rate),
      rawOtelSdkP99Ms: floor.p99Ms,
      'rawOtelSdk/raw': Math.round(ratios.command['rawOtelSdk/raw'].value * 1000) / 1000,
      rawOtelSdkCpuMicrosPerRequest: Math.round(floor.cpuMicros),
    });

    const range = ({ min, max }: { min: number; max: number }, digits: number) =>
      `${min.toFixed(digits)}–${max.toFixed(digits)}`;
    console.log();
    console.log(
      '| route | myelin (req/s) | raw (req/s) | myelin p99 (ms) | raw p99 (ms) | myelin/raw | rounds | target | status | server CPU µs/req, myelin | raw |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
    let missed = 0;
    for (const route of ['command', 'query'] as const) {
      const r = results[route];
      const met = r['myelin/raw'] >= targets[route];
      if (!met) missed++;
      console.log(
        `| ${route} | ${r.myelin} | ${r.raw} | ${r.myelinP99Ms} | ${r.rawP99Ms} | ${r['myelin/raw'].toFixed(2)} | ${range(ratios[route]['myelin/raw'], 2)} | >= ${targets[route]} | ${met ? 'met' : 'not met'} | ${r.myelinCpuMicrosPerRequest} | ${r.rawCpuMicrosPerRequest} |`,
      );
    }

    console.log();
    console.log(
      '| command route | req/s | /myelin | rounds | goal | status | p99 (ms) | server CPU µs/req |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
    const c = results.command;
    console.log(
      `| myelin, no instrumentation | ${c.myelin} | 1 | | | | ${c.myelinP99Ms} | ${c.myelinCpuMicrosPerRequest} |`,
    );
    for (const [name, goal, label] of [
      ['otelApi', 0.98, 'instrumented, API alone (no SDK)'],
      ['otelSdk', 0.9, 'instrumented, SDK sampling all, exporter dropping'],
    ] as const) {
      const value = c[`${name}/myelin`] as number;
      console.log(
        `| ${label} | ${c[name]} | ${value.toFixed(3)} | ${range(ratios.command[`${name}/myelin`], 3)} | >= ${goal} | ${value >= goal ? 'met' : 'not met'} | ${c[`${name}P99Ms`]} | ${c[`${name}CpuMicrosPerRequest`]} |`,
      );
    }
    const f = c['rawOtelSdk/raw'] as number;
    console.log(
      `| the floor: raw twin, the same SDK, spans and histogram by hand (/raw) | ${c.rawOtelSdk} | ${f.toFixed(3)} | ${range(ratios.command['rawOtelSdk/raw'], 3)} | | | ${c.rawOtelSdkP99Ms} | ${c.rawOtelSdkCpuMicrosPerRequest} |`,
    );
    console.log(
      '(each figure the median over the rounds; a ratio the median of the per-round ratios, "rounds" their range)',
    );

    if (quick) {
      console.log('\nBENCH_QUICK: results/http.json not written');
    } else {
      const file = new URL('../results/http.json', import.meta.url);
      await mkdir(new URL('.', file), { recursive: true });
      const json = {
        unit: 'requests/s',
        connections,
        durationSeconds: roundSeconds,
        warmupSeconds,
        rounds: { command: roundsOf(5), query: roundsOf(2) },
        results,
        roundRates: Object.fromEntries(
          (['command', 'query'] as const).map((route) => [
            route,
            Object.fromEntries(
              [...measured[route]].map(([name, runs]) => [name, runs.map((run) => Math.round(run.rate))]),
            ),
          ]),
        ),
        targets,
        machine,
        node: process.version,
        postgres,
        date: new Date().toISOString().slice(0, 10),
      };
      await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
      console.log(`\nwrote ${file.pathname}`);
    }
    if (missed > 0) console.log(`${missed} target(s) not met`);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await client.query(dropSchemas).catch(() => {});
    await client.end();
  }
}
