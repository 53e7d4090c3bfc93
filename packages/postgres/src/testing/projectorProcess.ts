// Test support: a projector process (the projection daemon of a small app) that says on stdout when it holds its
// lease and when it stops holding it, for a test that cuts its network. Its projection counts each stream's events
// and which process applied them, and notes an event that does not follow the one before in its stream, so that an
// event applied twice, skipped or out of order shows in the read model. On a line `stale` on stdin it writes as a
// holder that never noticed its loss would (a read-model row and a checkpoint, with the epoch it was given) and
// says whether the write was refused.
// Usage: projectorProcess.ts <url> <schema> <tag> <leaseMs>
import { createInterface } from 'node:readline';
import { createApplication, documents, event, logPosition, projection, unchecked } from '@myelin/core';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresProjections } from '../projections/postgresProjections.ts';
import { ProjectionDaemon } from '../projections/projectionDaemon.ts';
import { projectionSubscription } from '../projections/projectionSubscription.ts';
import { type Lease, LeaseLostError, leasesOf, writeCheckpoint } from '../subscriptions/leases.ts';

export const Noted = event('cut.noted', unchecked<{ stream: string; n: number }>());
export interface Tally {
  readonly count: number;
  readonly last: number;
  /** Set when an event came that is not the next of its stream: applied twice, or one skipped. */
  readonly broken: boolean;
  /** Events applied, by the tag of the process that applied them. */
  readonly by: Readonly<Record<string, number>>;
}
export const Tallies = documents<Tally>('cut-tallies');
/** The subscription the projection runs under. */
export const talliesSubscription = projectionSubscription(Tallies.modelName, 1);

const [url, schema, tag, leaseMs] = process.argv.slice(2) as [string, string, string, string];
const tallies = projection(Tallies).on(Noted, async (e, docs) => {
  const applied = await docs.update(e.stream, (d) => ({
    count: d.count + 1,
    last: e.n,
    broken: d.broken || e.n !== d.last + 1,
    by: { ...d.by, [tag]: (d.by[tag] ?? 0) + 1 },
  }));
  if (!applied) await docs.put(e.stream, { count: 1, last: e.n, broken: e.n !== 1, by: { [tag]: 1 } });
});

const say = (line: string) => process.stdout.write(`${line}\n`);
const database = postgresDatabase({
  connectionString: url,
  schema,
  leaseMs: Number(leaseMs),
  max: 4,
  // Short, so that a statement lost in the cut fails soon after it heals rather than 20 s on.
  timeouts: { connectMs: 1000, statementMs: 2000, lockMs: 2000 },
});
const app = await createApplication()
  .include(postgresPersistence(database, { migrate: false }), postgresProjections([tallies]))
  .build();
const daemon = new ProjectionDaemon(app, database, {
  batchSize: 20,
  pollMs: 200,
  leaseRetryMs: 100,
  onError: (error) =>
    say(`error ${Date.now()} ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`),
}).start();
say('started');

// What the test waits on: the leases held (false the moment this side gives its session up), and whether the
// runner is still in a batch (it may be, on a connection the cut left waiting), each with the time it changed.
const leases = leasesOf(database);
let held = 0;
let running = 0;
let epoch: string | undefined;
const watch = setInterval(() => {
  const nowHeld = leases.held;
  if (nowHeld !== held) {
    held = nowHeld;
    say(`lease ${held} ${Date.now()}`);
    if (held > 0) {
      void database
        .query<{ epoch: string }>(
          `SELECT epoch::text FROM ${database.schema}.subscriptions WHERE name = $1`,
          [talliesSubscription],
        )
        .then(
          ({ rows }) => (epoch = rows[0]?.epoch),
          (error: unknown) => say(`error ${Date.now()} reading the epoch: ${String(error)}`),
        );
    }
  }
  const nowRunning = daemon.held.length;
  if (nowRunning !== running) {
    running = nowRunning;
    say(`running ${running} ${Date.now()}`);
  }
}, 5);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'stale') return;
  void (async () => {
    // A pooled connection the cut left dead fails its first use: tried again, as the runner would.
    for (let attempt = 1; ; attempt++) {
      const outcome = await staleWrite();
      if (!outcome.startsWith('stale failed') || attempt === 5) return say(outcome);
    }
  })();
});

/** A batch under the epoch this process was given, as if it still held the lease. */
async function staleWrite(): Promise<string> {
  if (epoch === undefined) return 'stale no-epoch';
  const stale: Lease = {
    name: talliesSubscription,
    epoch,
    checkpoint: logPosition(0, 0),
    active: true,
    lost: new Promise(() => {}),
  };
  try {
    await database.transaction(async (sql) => {
      await sql.query(
        `INSERT INTO ${database.schema}.read_documents (model, id, doc) VALUES ('cut-tallies@1', 'stale', '{}')`,
      );
      const { rows } = await sql.query<{ tx: string; seq: string }>(
        `SELECT transaction_id::text AS tx, sequence::text AS seq FROM ${database.schema}.subscriptions WHERE name = $1`,
        [talliesSubscription],
      );
      const row = rows[0] as { tx: string; seq: string };
      await writeCheckpoint(sql, database.schema, stale, logPosition(row.tx, row.seq), 1);
    });
    return 'stale committed';
  } catch (error) {
    return error instanceof LeaseLostError ? 'stale refused' : `stale failed ${String(error)}`;
  }
}

process.on('SIGTERM', async () => {
  clearInterval(watch);
  await daemon.stop();
  await app.dispose();
  await database.close();
  process.exit(0);
});
