// Test support: a process that reads the log as a projection and through the relay, with effects that are not
// idempotent by themselves (counters), printing its progress, so that a test can kill it (SIGKILL) mid-batch and
// check that after a restart every event counted exactly once.
// Usage: crashReader.ts postgres <url> <schema> <expected>   |   crashReader.ts pglite <dataDir> <schema> <expected>
import {
  AggregateRoot,
  createApplication,
  documents,
  event,
  eventHandler,
  projection,
  type QueryableRepository,
  token,
  unchecked,
} from '@myelin/core';
import type { Database } from '../database/database.ts';
import { pgliteDatabase } from '../database/pgliteDatabase.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresProjections } from '../projections/postgresProjections.ts';
import { ProjectionDaemon } from '../projections/projectionDaemon.ts';
import { EventRelay } from '../relay/eventRelay.ts';
import { postgresStateStoredRepository } from '../repositories/stateStoredRepository.ts';

export const Ticked = event('crash.ticked', unchecked<{ n: number }>());
export const Totals = documents<{ count: number }>('crash-totals');

const Bumped = event('crash.tally.bumped', unchecked<Record<never, never>>());

class Tally extends AggregateRoot<{ count: number }, InstanceType<typeof Bumped>> {
  constructor(id: string) {
    super(id, { count: 0 });
  }
  bump(): void {
    this.raise(new Bumped({}));
  }
  protected override apply(state: { count: number }): { count: number } {
    return { count: state.count + 1 };
  }
}
export const Tallies = token<QueryableRepository<Tally>>('Tallies');

const [engine, location, schema, expectedText] = process.argv.slice(2) as [string, string, string, string];
const expected = Number(expectedText);
const database: Database =
  engine === 'pglite'
    ? await pgliteDatabase({ dataDir: location, schema })
    : postgresDatabase({ connectionString: location, schema });

const slowly = (ms = 1) => new Promise((resolve) => setTimeout(resolve, ms));
// The projection's writes cost no round trip until its batch ends (they are buffered), the handler's three each:
// paced so that both are part-way when the test kills the process. On PGlite the two take turns on its one
// connection, a batch each: the projection's batches are of one event there, as the relay's deliveries are.
const totals = projection(Totals).on(Ticked, async (_e, docs) => {
  await slowly(3);
  const current = await docs.get('total');
  await docs.put('total', { count: (current?.count ?? 0) + 1 });
});
const tally = eventHandler(
  { name: 'tally', idempotent: true },
  Ticked,
  { tallies: Tallies },
  async (_e, { tallies }) => {
    await slowly();
    const found = await tallies.get('total');
    if (found === undefined) {
      const created = new Tally('total');
      created.bump();
      await tallies.add(created);
    } else {
      found.bump();
      await tallies.update(found);
    }
  },
);

const app = await createApplication()
  .include(postgresPersistence(database), postgresProjections([totals]))
  .register(postgresStateStoredRepository(Tallies, Tally, { collection: 'crash-tally' }))
  .handle(tally)
  .build();
const quiet = { pollMs: 50, leaseRetryMs: 50, batchSize: 10, onError: () => {} };
const daemon = new ProjectionDaemon(app, database, {
  ...quiet,
  batchSize: engine === 'pglite' ? 1 : quiet.batchSize,
}).start();
const relay = new EventRelay(app, database, quiet).start();

for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 20));
  const { rows } = await database.query<{ projected: number | null; tallied: number | null }>(
    `SELECT (SELECT (doc->>'count')::int FROM ${database.schema}.read_documents
              WHERE model = 'crash-totals@1' AND id = 'total') AS projected,
            (SELECT (state->>'count')::int FROM ${database.schema}.documents
              WHERE collection = 'crash-tally' AND id = 'total') AS tallied`,
  );
  const projected = rows[0]?.projected ?? 0;
  const tallied = rows[0]?.tallied ?? 0;
  process.stdout.write(`p ${projected} ${tallied}\n`);
  if (projected >= expected && tallied >= expected) break;
}
await daemon.stop();
await relay.stop();
await app.dispose();
await database.close();
process.stdout.write('done\n');
