// Test support: a process running the scheduler over PostgreSQL, whose scheduled command has an effect that is not
// idempotent by itself (a counter per message), printing when it holds the lease and each delivery it makes, so
// that a test can kill it (SIGKILL) in the middle and check that every message took effect exactly once.
// Usage: schedulerProcess.ts <url> <schema>
import {
  AggregateRoot,
  command,
  createApplication,
  event,
  handler,
  ok,
  type QueryableRepository,
  token,
  unchecked,
} from '@myelin/core';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresStateStoredRepository } from '../repositories/stateStoredRepository.ts';
import { PostgresMessageScheduler } from '../scheduling/postgresMessageScheduler.ts';

/** The command the test schedules (as `failover.fire`, by SQL). */
const Fire = command('failover.fire', unchecked<{ n: number }>()).returns<void>();
const Counted = event('failover.counted', unchecked<Record<never, never>>());

class Counter extends AggregateRoot<{ count: number }, InstanceType<typeof Counted>> {
  constructor(id: string) {
    super(id, { count: 0 });
  }
  /** Counts one more delivery: a second delivery of a message would make it 2. */
  count(): void {
    this.raise(new Counted({}));
  }
  protected override apply(state: { count: number }): { count: number } {
    return { count: state.count + 1 };
  }
}
const Counters = token<QueryableRepository<Counter>>('Counters');

const [url, schema] = process.argv.slice(2) as [string, string];
const database = postgresDatabase({ connectionString: url, schema, max: 12 });
const app = await createApplication()
  .include(postgresPersistence(database, { migrate: false }))
  .register(postgresStateStoredRepository(Counters, Counter, { collection: 'failover-counter' }))
  .handle(
    handler(Fire, { counters: Counters }, async (c, { counters }) => {
      const id = `n${c.n}`;
      const existing = await counters.get(id);
      const counter = existing ?? new Counter(id);
      counter.count();
      // A little work, so that a kill lands in the middle of the deliveries.
      await new Promise((resolve) => setTimeout(resolve, 2));
      await (existing === undefined ? counters.add(counter) : counters.update(counter));
      console.log(`d ${c.n}`);
      return ok(undefined);
    }),
  )
  .build();
const scheduler = new PostgresMessageScheduler(app, database, {
  leaseRetryMs: 200,
  onError: () => {},
}).start();
console.log('started');
await scheduler.active();
console.log(`active ${Date.now()}`);
process.on('SIGTERM', async () => {
  await scheduler.stop();
  await app.dispose();
  await database.close();
  process.exit(0);
});
