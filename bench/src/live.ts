// Live streams at scale (issue 13): 10,000 idle Server-Sent-Events streams open on one pizzeria process (embedded
// PGlite, as `npm start` runs it), every one following the kitchen board, against a raw node:http twin that
// holds the same streams with nothing in between (./live/raw.ts).
//   rssMb        the server process's resident memory with the streams open, after the updates
//   menuP95Ms    GET /api/menu p95 latency while they are open (4 requests in flight for 5 s); goal < 50 ms; the
//                same figure with no stream open is printed beside it
//   updateP99Ms  from posting an order to its arrival on each of the streams (every stream shows the new board),
//                p99 over 5 orders × all streams
// The pizzeria is started as a deployment would start it (its main.ts, in a process of its own), with
// LIVE_STREAMS_PER_CLIENT raised to the stream count: every stream comes from one address here. The streams are
// opened by a client process of its own (./live/client.ts), the requests are made from this one.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientMessage, ClientRequest } from './live/client.ts';

const quick = process.env.BENCH_QUICK === '1';
const streamCount = Number(process.env.BENCH_LIVE_STREAMS ?? (quick ? 500 : 10_000));
const updates = quick ? 2 : 5;
const menuSeconds = quick ? 2 : 5;
const goalMenuP95Ms = 50;

interface Server {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts a server process and waits for the URL it prints. */
async function startServer(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  pattern: RegExp,
): Promise<Server> {
  const child = spawn(process.execPath, ['--conditions=@myelin/source', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      output += chunk;
      const match = pattern.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) =>
      reject(new Error(`live: the server exited (${code}) before listening:\n${output}`)),
    );
  });
  return {
    url,
    pid: child.pid as number,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return Math.round(kb / 1024);
}

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const round1 = (n: number) => Math.round(n * 10) / 10;

/** GET /api/menu with 4 requests in flight for a few seconds: the latencies. */
async function menuLatencies(url: string): Promise<number[]> {
  const latencies: number[] = [];
  const until = performance.now() + menuSeconds * 1000;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        const response = await fetch(`${url}/api/menu`);
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`live: GET /api/menu answered ${response.status}`);
        latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies;
}

/** The client process, and a way to ask it something and wait for the answer. */
function startClient(): {
  ask: <T extends ClientMessage>(request: ClientRequest) => Promise<T>;
  child: ChildProcess;
} {
  const child = fork(new URL('./live/client.ts', import.meta.url), [], {
    execArgv: ['--conditions=@myelin/source'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    child,
    ask: <T extends ClientMessage>(request: ClientRequest) =>
      new Promise<T>((resolve) => {
        child.once('message', (message: T) => resolve(message));
        child.send(request);
      }),
  };
}

interface Figures {
  readonly streams: number;
  readonly idleMenuP95Ms: number;
  readonly menuP95Ms: number;
  readonly updateP50Ms: number;
  readonly updateP99Ms: number;
  readonly missing: number;
  readonly idleRssMb: number;
  readonly rssMb: number;
}

async function measure(
  name: string,
  server: Server,
  headers: { stream: Record<string, string>; order: Record<string, string> },
): Promise<Figures> {
  const { hostname, port } = new URL(server.url);
  const idleMenu = await menuLatencies(server.url);
  const idleRssMb = rssMb(server.pid);
  const client = startClient();
  try {
    const started = performance.now();
    const { opened, refused } = await client.ask<{ opened: number; refused: number }>({
      open: {
        host: hostname,
        port: Number(port),
        path: '/api/kitchen/live',
        headers: headers.stream,
        count: streamCount,
      },
    });
    console.log(
      `  ${name}: ${opened} streams open in ${Math.round(performance.now() - started)} ms (${refused} refused)`,
    );
    const menu = await menuLatencies(server.url);
    const latencies: number[] = [];
    let missing = 0;
    for (let i = 0; i < updates; i++) {
      const marker = `Bench ${name} ${i} ${Date.now()}`;
      const arrivals = new Promise<{ arrivals: number[]; missing: number }>((resolve) => {
        const answer = (message: ClientMessage) => {
          if (!('arrivals' in message)) return;
          client.child.off('message', answer);
          resolve({ arrivals: [...message.arrivals], missing: message.missing });
        };
        client.child.on('message', answer);
      });
      await client.ask({ watch: marker }); // once it watches
      const posted = performance.timeOrigin + performance.now();
      const response = await fetch(`${server.url}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers.order },
        body: JSON.stringify({
          customerName: marker,
          customerPhone: '555 0100',
          pizzas: [{ name: 'margherita', size: 'large' }],
        }),
      });
      if (response.status !== 201)
        throw new Error(`live: POST /api/orders answered ${response.status}: ${await response.text()}`);
      const result = await arrivals;
      missing += result.missing;
      for (const arrival of result.arrivals) latencies.push(arrival - posted);
    }
    return {
      streams: opened,
      idleMenuP95Ms: round1(percentile(idleMenu, 95)),
      menuP95Ms: round1(percentile(menu, 95)),
      updateP50Ms: round1(percentile(latencies, 50)),
      updateP99Ms: round1(percentile(latencies, 99)),
      missing,
      idleRssMb,
      rssMb: rssMb(server.pid),
    };
  } finally {
    client.child.send({ close: true } satisfies ClientRequest);
    await new Promise((resolve) => client.child.once('exit', resolve));
  }
}

export async function main(): Promise<void> {
  console.log(
    `live: ${streamCount} idle streams on the kitchen board, ${updates} orders${quick ? ' (quick run)' : ''}`,
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'myelin-live-bench-'));
  const pizzeria = await startServer(
    [new URL('../../examples/mario-pizzeria/src/main.ts', import.meta.url).pathname],
    {
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'error',
      LIVE_STREAMS: String(streamCount),
      LIVE_STREAMS_PER_CLIENT: String(streamCount),
    },
    /open at (http:\/\/\S+)/,
  );
  let myelin: Figures;
  try {
    const token = async (user: string) => {
      const response = await fetch(`${pizzeria.url}/api/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: user, password: user }),
      });
      return ((await response.json()) as { accessToken: string }).accessToken;
    };
    const chef = await token('chef');
    const customer = await token('customer');
    myelin = await measure('myelin', pizzeria, {
      stream: { authorization: `Bearer ${chef}` },
      order: { authorization: `Bearer ${customer}` },
    });
  } finally {
    await pizzeria.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const twin = await startServer(
    [new URL('./live/raw.ts', import.meta.url).pathname],
    {},
    /at (http:\/\/\S+)/,
  );
  let raw: Figures;
  try {
    raw = await measure('raw', twin, { stream: {}, order: {} });
  } finally {
    await twin.stop();
  }

  console.log(
    '\n| side | streams | RSS idle → open (MB) | menu p95 idle → open (ms) | update p50 / p99 (ms) | missed |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const [name, f] of [
    ['myelin', myelin],
    ['raw', raw],
  ] as const) {
    console.log(
      `| ${name} | ${f.streams} | ${f.idleRssMb} → ${f.rssMb} | ${f.idleMenuP95Ms} → ${f.menuP95Ms} | ${f.updateP50Ms} / ${f.updateP99Ms} | ${f.missing} |`,
    );
  }
  console.log(
    `\nmenu p95 with the streams open: ${myelin.menuP95Ms} ms (goal < ${goalMenuP95Ms}: ${myelin.menuP95Ms < goalMenuP95Ms ? 'met' : 'NOT met'}); myelin/raw: RSS ${round1(myelin.rssMb / raw.rssMb)}×, update p99 ${round1(myelin.updateP99Ms / raw.updateP99Ms)}×`,
  );
  if (quick) return;
  await mkdir(new URL('../results/', import.meta.url), { recursive: true });
  await writeFile(
    new URL('../results/live.json', import.meta.url),
    `${JSON.stringify(
      {
        results: {
          streams: myelin.streams,
          menuP95Ms: myelin.menuP95Ms,
          updateP99Ms: myelin.updateP99Ms,
          rssMb: myelin.rssMb,
        },
        myelin,
        raw,
        measuredAt: new Date().toISOString(),
      },
      null,
      2,
    )}\n`,
  );
}
