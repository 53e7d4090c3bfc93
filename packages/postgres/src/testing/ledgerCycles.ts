// Test support: kills the ledger process at random moments, again and again, and after each restart lets the
// readers catch up and checks them against the fold of the whole log. Used by the crash test (20 cycles) and by
// `npm run crash-cycles -- <cycles>` (scripts/crashCycles.ts) for longer runs.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Database } from '../database/database.ts';
import { ProjectionDaemon } from '../projections/projectionDaemon.ts';
import { projectionLag } from '../projections/projectionLag.ts';
import { EventRelay } from '../relay/eventRelay.ts';
import { ledgerApp, ledgerCheck } from './ledgerApp.ts';

const child = fileURLToPath(new URL('./ledgerProcess.ts', import.meta.url));

/** Runs the ledger process for a random 100–700 ms once it is ready, then kills it with SIGKILL. */
async function runAndKill(url: string, schema: string): Promise<void> {
  const process_ = spawn(process.execPath, ['--conditions=@myelin/source', child, url, schema], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve, reject) =>
    process_.on('exit', (_code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`the ledger process exited on its own: ${stderr}`)),
    ),
  );
  await new Promise<void>((resolve, reject) => {
    process_.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    exited.catch(reject);
  });
  await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 600));
  process_.kill('SIGKILL');
  await exited;
}

/** Lets the readers of `database` catch up with the log, in this process. */
async function catchUp(database: Database): Promise<void> {
  const app = await ledgerApp(database);
  const quick = { pollMs: 50, leaseRetryMs: 50, batchSize: 50, onError: () => {} };
  const daemon = new ProjectionDaemon(app, database, quick).start();
  const relay = new EventRelay(app, database, quick).start();
  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      const lag = await projectionLag(database);
      const check = await ledgerCheck(database);
      if (lag.every((l) => l.pendingEvents === 0) && check.mismatches.length === 0) return;
      if (Date.now() > deadline) throw new Error(`no catch-up in 10 s: ${JSON.stringify({ lag, check })}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await daemon.stop();
    await relay.stop();
    await app.dispose();
  }
}

export interface CycleReport {
  readonly cycle: number;
  readonly deposits: number;
  readonly mismatches: readonly unknown[];
  readonly held: number;
}

/** `cycles` kill-and-restart cycles; the report of each, after its catch-up. */
export async function crashCycles(
  database: Database,
  url: string,
  cycles: number,
  onCycle: (report: CycleReport) => void = () => {},
): Promise<readonly CycleReport[]> {
  const reports: CycleReport[] = [];
  for (let cycle = 1; cycle <= cycles; cycle++) {
    await runAndKill(url, database.schemaName);
    await catchUp(database).catch(() => {}); // a failed catch-up shows in the check below
    const check = await ledgerCheck(database);
    const report = { cycle, ...check };
    reports.push(report);
    onCycle(report);
  }
  return reports;
}
