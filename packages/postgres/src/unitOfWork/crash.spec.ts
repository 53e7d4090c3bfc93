import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { pgliteDatabase } from '../database/pgliteDatabase.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { postgresUrl, testSchema } from '../testing/databases.ts';

const writer = fileURLToPath(new URL('../testing/crashWriter.ts', import.meta.url));

/** Starts the writer, waits until `acks` commands have succeeded, kills it with SIGKILL; returns the ids acked. */
async function writeThenKill(args: readonly string[], acks: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--conditions=@myelin/source', writer, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked: string[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code, signal) =>
      reject(new Error(`writer exited early (${code ?? signal}): ${stderr}`)),
    );
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('ok ')) acked.push(line.slice(3));
      if (acked.length >= acks) resolve();
    });
  });
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  return acked;
}

/** Checks every acknowledged command is stored whole and nothing is stored in part. */
async function checkSurvivors(database: Database, acked: readonly string[]): Promise<number> {
  const s = database.schema;
  const { rows } = await database.query<{
    id: string;
    order_events: number;
    customer: number;
    customer_events: number;
  }>(
    `WITH ids AS (
       SELECT substr(stream_id, 7) AS id FROM ${s}.streams WHERE stream_id LIKE 'Order-%'
       UNION SELECT substr(id, 10) FROM ${s}.documents WHERE collection = 'Customer'
       UNION SELECT substr(stream_id, 19) FROM ${s}.events WHERE stream_id LIKE 'Customer-customer-%'
     )
     SELECT ids.id,
       (SELECT count(*)::int FROM ${s}.events e WHERE e.stream_id = 'Order-' || ids.id) AS order_events,
       (SELECT count(*)::int FROM ${s}.documents d WHERE d.collection = 'Customer' AND d.id = 'customer-' || ids.id) AS customer,
       (SELECT count(*)::int FROM ${s}.events e WHERE e.stream_id = 'Customer-customer-' || ids.id) AS customer_events
     FROM ids`,
  );
  const stored = new Map(rows.map((row) => [row.id, row]));
  for (const id of acked) expect(stored.has(id), `acknowledged ${id} is stored`).toBe(true);
  for (const row of rows) {
    expect(row, `${row.id} is whole`).toEqual({
      id: row.id,
      order_events: 2,
      customer: 1,
      customer_events: 1,
    });
  }
  return rows.length;
}

describe('a process killed in the middle of a stream of commands', () => {
  it('on PostgreSQL: keeps every command that returned success, whole, and nothing half-written', async () => {
    const schema = testSchema();
    const acked = await writeThenKill(['postgres', postgresUrl, schema], 150);
    const database = postgresDatabase({ connectionString: postgresUrl, schema });
    try {
      const stored = await checkSurvivors(database, acked);
      expect(stored).toBeGreaterThanOrEqual(acked.length);
    } finally {
      await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
      await database.close();
    }
  }, 60_000);

  it('on PGlite with a data directory: the same after it reopens the directory', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'myelin-crash-'));
    const schema = 'crash';
    try {
      const acked = await writeThenKill(['pglite', directory, schema], 60);
      const database = await pgliteDatabase({ dataDir: directory, schema });
      try {
        expect(await checkSurvivors(database, acked)).toBeGreaterThanOrEqual(acked.length);
      } finally {
        await database.close();
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }, 120_000);
});
