import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NewEvent } from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { describe, expect, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { pgliteDatabase } from '../database/pgliteDatabase.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { migrate } from '../migrations/migrate.ts';
import { postgresUrl, testSchema } from '../testing/databases.ts';

const reader = fileURLToPath(new URL('../testing/crashReader.ts', import.meta.url));
const events = 150;

/** Runs the reader; resolves with its last progress line once `until` accepts one (then kills it) or it exits. */
function runReader(args: readonly string[], until?: (projected: number, tallied: number) => boolean) {
  const child = spawn(process.execPath, ['--conditions=@myelin/source', reader, ...args, String(events)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let last = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ last: string; killed: boolean }>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.startsWith('p ')) continue;
        last = line;
        const [, projected, tallied] = line.split(' ').map(Number) as [number, number, number];
        if (until?.(projected, tallied) === true) {
          child.kill('SIGKILL');
          until = undefined;
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ last, killed: true });
      else if (code === 0) resolve({ last, killed: false });
      else reject(new Error(`reader exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

function ticks(): NewEvent[][] {
  // 'crash.ticked' is Ticked in testing/crashReader.ts (a script: importing it would run it).
  return Array.from({ length: events / 10 }, (_, stream) =>
    Array.from({ length: 10 }, (_, i) => newEvent('crash.ticked', { n: stream * 10 + i })),
  );
}

async function totals(database: Database): Promise<{ projected: number; tallied: number; inbox: number }> {
  const s = database.schema;
  const { rows } = await database.query<{ projected: number; tallied: number; inbox: number }>(
    `SELECT (SELECT (doc->>'count')::int FROM ${s}.read_documents WHERE model = 'crash-totals@1' AND id = 'total')
              AS projected,
            (SELECT (state->>'count')::int FROM ${s}.documents WHERE collection = 'crash-tally' AND id = 'total')
              AS tallied,
            (SELECT count(*)::int FROM ${s}.inbox) AS inbox`,
  );
  return rows[0] as { projected: number; tallied: number; inbox: number };
}

/** How many ticks the relay's handler has delivered beyond its checkpoint: what a restart delivers again. */
async function undelivered(database: Database): Promise<number> {
  const s = database.schema;
  const { rows } = await database.query<{ n: number }>(
    `SELECT (SELECT (state->>'count')::int FROM ${s}.documents WHERE collection = 'crash-tally' AND id = 'total')
       - (SELECT count(*)::int FROM ${s}.events e, ${s}.subscriptions c
          WHERE c.name = 'relay:crash.ticked:tally' AND e.type = 'crash.ticked'
            AND (e.transaction_id, e.sequence) <= (c.transaction_id, c.sequence)) AS n`,
  );
  return rows[0]?.n ?? 0;
}

// Killed while the handler is in the middle of a batch of 10: some events delivered, the checkpoint not moved.
const midBatch = (p: number, t: number) => p >= 30 && p < events && t >= 30 && t % 10 >= 3 && t % 10 <= 7;

async function seed(database: Database): Promise<void> {
  await migrate(database);
  const store = new PostgresEventStore(database);
  for (const [i, batch] of ticks().entries()) await store.append(`tick-${i}`, batch, 'no_stream');
}

describe('readers killed in the middle of the log', () => {
  it('on PostgreSQL: after a restart, the projection and the idempotent handler count every event exactly once', {
    timeout: 60_000,
  }, async () => {
    const schema = testSchema();
    const database = postgresDatabase({ connectionString: postgresUrl, schema });
    try {
      await seed(database);
      const first = await runReader(['postgres', postgresUrl, schema], midBatch);
      expect(first.killed).toBe(true);
      expect((await totals(database)).projected).toBeLessThan(events); // it was stopped part-way
      // The restart will deliver some events to the handler a second time: the inbox must absorb them.
      expect(await undelivered(database)).toBeGreaterThan(0);
      const second = await runReader(['postgres', postgresUrl, schema]);
      expect(second.killed).toBe(false);
      expect(await totals(database)).toEqual({ projected: events, tallied: events, inbox: events });
    } finally {
      await database.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await database.close();
    }
  });

  it('on PGlite with a data directory: the same after it reopens the directory', {
    timeout: 60_000,
  }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'myelin-readers-'));
    const schema = 'crash';
    try {
      const writer = await pgliteDatabase({ dataDir, schema });
      await seed(writer);
      await writer.close();
      const first = await runReader(['pglite', dataDir, schema], midBatch);
      expect(first.killed).toBe(true);
      const killed = await pgliteDatabase({ dataDir, schema });
      expect(await undelivered(killed)).toBeGreaterThan(0);
      await killed.close();
      const second = await runReader(['pglite', dataDir, schema]);
      expect(second.killed).toBe(false);
      const database = await pgliteDatabase({ dataDir, schema });
      expect(await totals(database)).toEqual({ projected: events, tallied: events, inbox: events });
      await database.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
