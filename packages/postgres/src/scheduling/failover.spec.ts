import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { migrate } from '../migrations/migrate.ts';
import { childLines } from '../testing/childLines.ts';
import { postgresUrl, testSchema } from '../testing/databases.ts';

const script = fileURLToPath(new URL('../testing/schedulerProcess.ts', import.meta.url));
const messages = 1000;
const children: ChildProcess[] = [];

/** A scheduler process, and what it says line by line. */
function schedulerProcess(schema: string) {
  const child = spawn(process.execPath, ['--conditions=@myelin/source', script, postgresUrl, schema], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines = childLines(child, 'the scheduler process');
  return {
    child,
    deliveries: () => lines.seen.filter((line) => line.startsWith('d ')).length,
    line: (match: (line: string) => boolean) => lines.line(match, 120_000),
  };
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('the scheduler killed while a thousand messages come due', () => {
  it('delivers every one exactly once in effect, a standby taking over within the lease time', async () => {
    const schema = testSchema();
    const database = postgresDatabase({ connectionString: postgresUrl, schema });
    try {
      await migrate(database);
      const a = schedulerProcess(schema);
      await a.line((line) => line.startsWith('active'));
      const b = schedulerProcess(schema);
      await b.line((line) => line === 'started');
      // A thousand commands, due together in a moment (by the system clock the schedulers use).
      await database.query(
        `INSERT INTO ${schema}.scheduled_messages (id, message_id, kind, type, type_version, payload, due_at,
           correlation_id)
         SELECT 'fire-' || n, 'm-' || n, 'command', 'failover.fire', 1, jsonb_build_object('n', n),
           now() + interval '300 milliseconds', 'failover'
         FROM generate_series(1, $1::int) AS n`,
        [messages],
      );
      // Killed once it has delivered some, and long before all.
      await a.line((line) => line.startsWith('d ') && a.deliveries() >= 100);
      a.child.kill('SIGKILL');
      const killedAt = Date.now();
      const taken = await b.line((line) => line.startsWith('active'));
      const firstAfter = await b.line((line) => line.startsWith('d '));
      const takeoverMs = Number(taken.split(' ')[1]) - killedAt;
      console.log(
        `scheduler failover: ${a.deliveries()} delivered before the kill, the standby held the lease ` +
          `${takeoverMs} ms after it (lease retry 200 ms) and delivered ${firstAfter}`,
      );
      expect(a.deliveries()).toBeLessThan(messages);
      expect(takeoverMs).toBeLessThan(10_000);
      // Until the standby has emptied the schedule: its deliveries are the signal; the bound is only for a hang.
      const deadline = Date.now() + 120_000;
      for (;;) {
        const { rows } = await database.query<{ left: number }>(
          `SELECT count(*)::int AS left FROM ${schema}.scheduled_messages`,
        );
        if (rows[0]?.left === 0) break;
        if (Date.now() > deadline) throw new Error(`${rows[0]?.left} messages were never delivered`);
        // The next delivery, or a short look again: the last ones may have come between the count and the wait.
        const before = b.deliveries();
        await Promise.race([
          b.line((line) => line.startsWith('d ') && b.deliveries() > before),
          new Promise((resolve) => setTimeout(resolve, 250)),
        ]);
      }
      const { rows } = await database.query<{ counted: number; once: number; total: number }>(
        `SELECT count(*)::int AS counted, count(*) FILTER (WHERE (state->>'count')::int = 1)::int AS once,
           coalesce(sum((state->>'count')::int), 0)::int AS total
         FROM ${schema}.documents WHERE collection = 'failover-counter'`,
      );
      expect(rows[0]).toEqual({ counted: messages, once: messages, total: messages });
    } finally {
      for (const child of children) child.kill('SIGKILL');
      await database.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await database.close();
    }
  }, 180_000);
});
