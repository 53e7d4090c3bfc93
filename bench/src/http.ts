// The HTTP boundary under load (issue 5): Myelin's routes (request → message, validation, handler, event-sourced
// save on PostgreSQL, commit → response) against a raw Fastify twin doing the same work by hand, driven by
// autocannon with 50 connections for 10 s per side and route.
//   command  POST /accounts/{id}/deposits {"amount":1}: load or open an event-sourced account, deposit, append
//            the event with the expected-version check (see ./http/myelin.ts and ./http/raw.ts)
//   query    GET /accounts/{id}: one document of the account-balances read model, a random one of 10,000
// Figures: requests/s (2xx responses over the run's duration), autocannon's p99 latency, and the server process's CPU
// time per response.
//
// Each server runs in a child process of its own (forked with this Node and `--conditions=@myelin/source`), and
// autocannon runs here, in the parent: the machine has 2 cores, and a load generator in the server's process would
// take its event loop's time and be counted against the server. Here the server has a core's worth of event loop
// to itself, sharing the machine with autocannon and PostgreSQL alike on both sides. Both children are started
// at once and stay up; only the one under load does any work.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { migrations } from '@myelin/postgres';
import autocannon from 'autocannon';
import pg from 'pg';
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
const measureSeconds = quick ? 2 : 10;

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

/** Forks a child serving one side and waits until it listens. */
async function startServer(name: ServerName): Promise<Server> {
  const child: ChildProcess = fork(new URL('./http/server.ts', import.meta.url), [name], {
    execArgv: ['--conditions=@myelin/source'],
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

const dropSchemas = [
  myelinSchema,
  rawSchema,
  schemaOf('otelApi', myelinSchema),
  schemaOf('otelSdk', myelinSchema),
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
    await client.query(`CREATE SCHEMA ${rawSchema}`);
    for (const migration of migrations) await client.query(migration.sql(`"${rawSchema}"`));

    const [myelin, raw, otelApi, otelSdk] = await Promise.all(
      (['myelin', 'raw', 'otelApi', 'otelSdk'] as const).map(startServer),
    );
    if (!myelin || !raw || !otelApi || !otelSdk) throw new Error('http: a server did not start');
    servers.push(myelin, raw, otelApi, otelSdk);

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
    await client.query(seedDocumentsSql(rawSchema, balancesModel));
    await client.query(`ANALYZE ${myelinSchema}.read_documents; ANALYZE ${rawSchema}.read_documents`);

    for (const server of servers) await check(server);

    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`;
    const postgres = await serverVersion(client);
    console.log(`http: Node ${process.version}, ${machine}, PostgreSQL ${postgres}`);
    console.log(
      `per route and side: ${warmupSeconds} s warm-up, then ${measureSeconds} s measured; ${connections} connections, pipelining 1; server pools of ${poolSize}`,
    );

    // Alternating: the command route myelin first, the query route raw first. The command route also runs with
    // OpenTelemetry's instrumentation on (otelApi: the API alone, no SDK; otelSdk: an SDK sampling everything).
    const plan: readonly { route: RouteName; sides: readonly Server[] }[] = [
      { route: 'command', sides: [myelin, otelApi, otelSdk, raw] },
      { route: 'query', sides: [raw, myelin] },
    ];
    const runs = new Map<string, Run>();
    const deposits = new Map<ServerName, { ok: number; runs: number }>(
      (['myelin', 'raw', 'otelApi', 'otelSdk'] as const).map((name) => [name, { ok: 0, runs: 0 }]),
    );
    for (const { route, sides } of plan) {
      for (const server of sides) {
        await checkpoint();
        const warm = await load(server, route, warmupSeconds, `warm-${server.name}`);
        const run = await load(server, route, measureSeconds, `run-${server.name}`);
        for (const r of [warm, run]) {
          if (r.failed > 0)
            console.log(`  ${route}, ${server.name}: ${r.failed} requests failed (non-2xx or errors)`);
        }
        if (route === 'command') {
          const tally = deposits.get(server.name) as { ok: number; runs: number };
          tally.ok += warm.ok + run.ok;
          tally.runs += 2;
        }
        runs.set(`${route}:${server.name}`, run);
        console.log(
          `  ${route}, ${server.name}: ${Math.round(run.rate)} requests/s, p99 ${run.p99Ms} ms, server CPU ${Math.round(run.cpuMicros)} µs/request (warm-up ${Math.round(warm.rate)}/s)`,
        );
      }
    }

    // Every deposit answered 200 was stored, once: the events are at least those answered, and at most as many
    // more as requests were in flight when autocannon stopped each run (it does not wait for their answers).
    for (const [name, schema] of [
      ['myelin', myelinSchema],
      ['raw', rawSchema],
      ['otelApi', schemaOf('otelApi', myelinSchema)],
      ['otelSdk', schemaOf('otelSdk', myelinSchema)],
    ] as const) {
      const tally = deposits.get(name) as { ok: number; runs: number };
      const stored = (await count(client, schema)) - 2; // the two deposits of `check`
      if (stored < tally.ok || stored > tally.ok + tally.runs * connections) {
        throw new Error(`http: ${name}: ${tally.ok} deposits answered 200, but ${stored} events stored`);
      }
    }

    const figure = (route: RouteName, name: ServerName) => runs.get(`${route}:${name}`) as Run;
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
            'myelin/raw': Math.round((m.rate / r.rate) * 100) / 100,
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
      const m = figure('command', 'myelin');
      return {
        [name]: Math.round(o.rate),
        [`${name}P99Ms`]: o.p99Ms,
        [`${name}/myelin`]: Math.round((o.rate / m.rate) * 1000) / 1000,
        [`${name}CpuMicrosPerRequest`]: Math.round(o.cpuMicros),
      };
    };
    Object.assign(results.command, cost('otelApi'), cost('otelSdk'));

    console.log();
    console.log(
      '| route | myelin (req/s) | raw (req/s) | myelin p99 (ms) | raw p99 (ms) | myelin/raw | target | status | server CPU µs/req, myelin | raw |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
    let missed = 0;
    for (const route of ['command', 'query'] as const) {
      const r = results[route];
      const met = r['myelin/raw'] >= targets[route];
      if (!met) missed++;
      console.log(
        `| ${route} | ${r.myelin} | ${r.raw} | ${r.myelinP99Ms} | ${r.rawP99Ms} | ${r['myelin/raw'].toFixed(2)} | >= ${targets[route]} | ${met ? 'met' : 'not met'} | ${r.myelinCpuMicrosPerRequest} | ${r.rawCpuMicrosPerRequest} |`,
      );
    }

    console.log();
    console.log('| command route | req/s | /myelin | goal | status | p99 (ms) | server CPU µs/req |');
    console.log('| --- | ---: | ---: | ---: | --- | ---: | ---: |');
    const c = results.command;
    console.log(
      `| myelin, no instrumentation | ${c.myelin} | 1 | | | ${c.myelinP99Ms} | ${c.myelinCpuMicrosPerRequest} |`,
    );
    for (const [name, goal, label] of [
      ['otelApi', 0.98, 'instrumented, API alone (no SDK)'],
      ['otelSdk', 0.9, 'instrumented, SDK sampling all, exporter dropping'],
    ] as const) {
      const ratio = c[`${name}/myelin`] as number;
      console.log(
        `| ${label} | ${c[name]} | ${ratio.toFixed(3)} | >= ${goal} | ${ratio >= goal ? 'met' : 'not met'} | ${c[`${name}P99Ms`]} | ${c[`${name}CpuMicrosPerRequest`]} |`,
      );
    }

    if (quick) {
      console.log('\nBENCH_QUICK: results/http.json not written');
    } else {
      const file = new URL('../results/http.json', import.meta.url);
      await mkdir(new URL('.', file), { recursive: true });
      const json = {
        unit: 'requests/s',
        connections,
        durationSeconds: measureSeconds,
        warmupSeconds,
        results,
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
