// Runs one side of the append benchmark's `protected` case alone for a number of seconds, for a profiler:
//   npx node --conditions=@myelin/source --cpu-prof --cpu-prof-dir=/tmp/profiles \
//     bench/src/append/profileProtected.ts on 16 10
// (side, writers, seconds). The customers register first (not timed), as in the benchmark; then it prints the
// rate, and the CPU time per event of this process's event loop, of its other threads (libuv's pool, where
// WebCrypto's jobs run, and V8's) and of the PostgreSQL backends serving the store's pool, read from /proc.
import { readdir, readFile } from 'node:fs/promises';
import type { MyelinAppender } from './myelin.ts';
import { protectedOperation, registerCustomers, type Side, setUpProtected, sides } from './protected.ts';
import { createWriters, poolSize, runFor } from './workload.ts';

const side = (process.argv[2] ?? 'on') as Side;
if (!sides.includes(side)) throw new Error(`side: on or off, not ${side}`);
const writers = Number(process.argv[3] ?? 16);
const seconds = Number(process.argv[4] ?? 10);

const tickMicros = 1e6 / 100;

/** CPU time (user + system, in µs) of a process or thread, from its `stat` file under /proc; 0 once it is gone. */
async function cpuMicros(statFile: string): Promise<number> {
  try {
    const fields = (await readFile(statFile, 'utf8')).split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * tickMicros;
  } catch {
    return 0;
  }
}

/** This process's CPU time: its main thread's (the event loop's), and all of its other threads' together. */
async function processCpu(): Promise<{ main: number; others: number }> {
  let others = 0;
  for (const tid of await readdir('/proc/self/task')) {
    if (tid !== String(process.pid)) others += await cpuMicros(`/proc/self/task/${tid}/stat`);
  }
  return { main: await cpuMicros(`/proc/self/task/${process.pid}/stat`), others };
}

/**
 * The PostgreSQL backends serving `db`'s pool: each of `poolSize` concurrent queries holds a connection of its
 * own. Only these are counted, not the whole server's processes, which other work on the machine may use.
 */
async function backends(db: MyelinAppender['db']): Promise<number[]> {
  const pids = await Promise.all(
    Array.from({ length: poolSize }, async () => {
      const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.05)');
      return rows[0]?.pid ?? 0;
    }),
  );
  return [...new Set(pids)];
}

async function backendsCpu(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) total += await cpuMicros(`/proc/${pid}/stat`);
  return total;
}

const stores = await setUpProtected();
try {
  await registerCustomers(side, stores[side], poolSize);
  const operation = protectedOperation(side, stores[side], 10);
  const workers = createWriters(`profile-${side}`, writers);
  await runFor(workers, operation, 1000);
  const pids = await backends(stores[side].db);
  const before = { process: await processCpu(), database: await backendsCpu(pids) };
  const run = await runFor(workers, operation, seconds * 1000);
  const after = { process: await processCpu(), database: await backendsCpu(pids) };
  const perEvent = (micros: number) => (micros / run.units).toFixed(1);
  console.log(
    `${side}, ${writers} writer(s): ${Math.round(run.rate)} events/s; CPU per event: event loop ${perEvent(after.process.main - before.process.main)} µs, this process's other threads ${perEvent(after.process.others - before.process.others)} µs, the pool's ${pids.length} PostgreSQL backends ${perEvent(after.database - before.database)} µs`,
  );
} finally {
  for (const s of sides) await stores[s].close();
}
