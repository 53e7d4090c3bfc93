import {
  AggregateRoot,
  badRequest,
  command,
  createApplication,
  event,
  handler,
  notFound,
  ok,
  type QueryableRepository,
  type Repository,
  type Token,
  token,
  unchecked,
} from '@myelin/core';
import type { Provider } from '@myelin/core/container';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresPersistenceOptions, postgresPersistence } from '../postgresPersistence.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { postgresStateStoredRepository } from '../repositories/stateStoredRepository.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { PostgresUnitOfWorkToken } from './postgresUnitOfWork.ts';

const Incremented = event('counter.incremented', unchecked<{ by: number }>());
type Incremented = InstanceType<typeof Incremented>;

class Counter extends AggregateRoot<{ count: number }, Incremented> {
  constructor(id: string) {
    super(id, { count: 0 });
  }
  increment(by = 1): void {
    this.raise(new Incremented({ by }));
  }
  protected override apply(state: { count: number }, e: Incremented) {
    return { count: state.count + e.by };
  }
}

const Create = command('counter.create', unchecked<{ id: string }>()).returns<void>();
const Increment = command('counter.increment', unchecked<{ id: string }>()).returns<number>();
const CreateTwoThenFail = command(
  'counter.createTwoThenFail',
  unchecked<{ id: string; throws: boolean }>(),
).returns<void>();

const Counters = token<Repository<Counter>>('Counters');
const Tallies = token<QueryableRepository<Counter>>('Tallies');

describe.each(engines)('the unit of work on $name', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open({ max: 32 });
  });
  afterAll(() => test.drop());

  const build = (
    repository: Token<Repository<Counter>>,
    name: string,
    options: PostgresPersistenceOptions = {},
  ) =>
    createApplication()
      .include(postgresPersistence(test.database, options))
      .register(
        (repository === Counters
          ? postgresEventSourcedRepository(Counters, Counter, { events: [Incremented], stream: name })
          : postgresStateStoredRepository(Tallies, Counter, { collection: name })) as Provider<unknown, any>,
      )
      .handle(
        handler(Create, { counters: repository }, async (c, { counters }) => {
          const counter = new Counter(c.id);
          counter.increment(0);
          await counters.add(counter);
          return ok(undefined);
        }),
        handler(Increment, { counters: repository }, async (c, { counters }) => {
          const counter = await counters.get(c.id);
          if (counter === undefined) return notFound('Counter', c.id);
          counter.increment();
          await counters.update(counter);
          return ok(counter.state.count);
        }),
      )
      .build();

  describe.each([
    ['event-sourced', Counters],
    ['state-stored', Tallies],
  ] as const)('%s', (kind, repository) => {
    it('lets each of 32 concurrent commands on one aggregate commit or get 409, and writes no version twice', async () => {
      const name = `Counter${kind === 'state-stored' ? 'S' : 'E'}${crypto.randomUUID().slice(0, 6)}`;
      await using app = await build(repository, name);
      await app.mediator.execute(new Create({ id: 'x' }));
      const results = await Promise.all(
        Array.from({ length: 32 }, () => app.mediator.execute(new Increment({ id: 'x' }))),
      );
      const commits = results.filter((r) => r.ok).length;
      expect(commits).toBeGreaterThanOrEqual(1);
      expect(results.filter((r) => !r.ok).map((r) => r.status)).toEqual(Array(32 - commits).fill(409));
      const s = test.database.schema;
      // Every version of the stream exactly once, 1..(commits + 1): the creation, then one per commit.
      const { rows } = await test.database.query<{ versions: number[]; distinct: number; total: number }>(
        `SELECT array_agg(stream_version ORDER BY stream_version) AS versions,
                count(DISTINCT stream_version)::int AS distinct, count(*)::int AS total
         FROM ${s}.events WHERE stream_id = $1`,
        [`${name}-x`],
      );
      expect(rows[0]).toEqual({
        versions: Array.from({ length: commits + 1 }, (_, i) => i + 1),
        distinct: commits + 1,
        total: commits + 1,
      });
      const stored = await test.database.query<{ version: number }>(
        kind === 'state-stored'
          ? `SELECT version FROM ${s}.documents WHERE collection = $1 AND id = 'x'`
          : `SELECT version FROM ${s}.streams WHERE stream_id = $1 || '-x'`,
        [name],
      );
      expect(stored.rows[0]?.version).toBe(commits + 1);
    });

    it('with the opt-in retry policy, re-runs conflicting commands until all 32 commit', async () => {
      const name = `Counter${crypto.randomUUID().slice(0, 6)}`;
      await using app = await build(repository, name, { retryOnConflict: { retries: 100, backoffMs: 1 } });
      await app.mediator.execute(new Create({ id: 'x' }));
      const results = await Promise.all(
        Array.from({ length: 32 }, () => app.mediator.execute(new Increment({ id: 'x' }))),
      );
      expect(results.every((r) => r.ok)).toBe(true);
      expect(results.map((r) => (r.ok ? r.data : 0)).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 32 }, (_, i) => i + 1),
      );
    });
  });

  it('leaves neither row nor event behind when a handler saves two aggregates and then fails', async () => {
    const name = `Pair${crypto.randomUUID().slice(0, 6)}`;
    await using app = await createApplication()
      .include(postgresPersistence(test.database))
      .register(
        postgresEventSourcedRepository(Counters, Counter, { events: [Incremented], stream: `${name}E` }),
      )
      .register(postgresStateStoredRepository(Tallies, Counter, { collection: `${name}S` }))
      .handle(
        handler(
          CreateTwoThenFail,
          { counters: Counters, tallies: Tallies },
          async (c, { counters, tallies }) => {
            for (const repository of [counters, tallies]) {
              const counter = new Counter(c.id);
              counter.increment(5);
              await repository.add(counter);
            }
            if (c.throws) throw new Error('failed after saving both');
            return badRequest('failed after saving both');
          },
        ),
      )
      .build();
    expect((await app.mediator.execute(new CreateTwoThenFail({ id: 'x', throws: false }))).status).toBe(400);
    await expect(app.mediator.execute(new CreateTwoThenFail({ id: 'x', throws: true }))).rejects.toThrow(
      'failed after saving both',
    );
    const s = test.database.schema;
    const { rows } = await test.database.query<{ documents: number; events: number; streams: number }>(
      `SELECT (SELECT count(*)::int FROM ${s}.documents WHERE collection = $1) AS documents,
              (SELECT count(*)::int FROM ${s}.events WHERE stream_id IN ($2, $3)) AS events,
              (SELECT count(*)::int FROM ${s}.streams WHERE stream_id IN ($2, $3)) AS streams`,
      [`${name}S`, `${name}E-x`, `${name}S-x`],
    );
    expect(rows[0]).toEqual({ documents: 0, events: 0, streams: 0 });
  });

  it('writes the rows a command enlisted as a batch with its aggregates, and none when it fails', async () => {
    const name = `Batch${crypto.randomUUID().slice(0, 6)}`;
    const s = test.database.schema;
    await test.database.exec(`CREATE TABLE ${s}.${name} (id text PRIMARY KEY, n integer NOT NULL)`);
    const Record = command(
      'counter.record',
      unchecked<{ id: string; ns: number[]; fail: boolean }>(),
    ).returns<void>();
    const writes: number[] = [];
    await using app = await createApplication()
      .include(postgresPersistence(test.database))
      .register(postgresStateStoredRepository(Tallies, Counter, { collection: name }))
      .handle(
        handler(Record, { tallies: Tallies, work: PostgresUnitOfWorkToken }, async (c, { tallies, work }) => {
          const counter = new Counter(c.id);
          counter.increment(c.ns.length);
          await tallies.add(counter);
          for (const n of c.ns) {
            work.enlistBatched(name, { id: `${c.id}-${n}`, n }, async (sql, rows) => {
              writes.push(rows.length);
              await sql.query(
                `INSERT INTO ${s}.${name} (id, n) SELECT * FROM unnest($1::text[], $2::int[])`,
                [rows.map((row) => row.id), rows.map((row) => row.n)],
              );
            });
          }
          return c.fail ? badRequest('refused') : ok(undefined);
        }),
      )
      .build();
    expect(await app.mediator.execute(new Record({ id: 'a', ns: [1, 2, 3], fail: false }))).toMatchObject({
      ok: true,
    });
    expect(writes).toEqual([3]);
    expect((await app.mediator.execute(new Record({ id: 'b', ns: [4], fail: true }))).status).toBe(400);
    // A duplicate row fails the commit: the aggregate is not written either.
    const duplicate = app.mediator.execute(new Record({ id: 'c', ns: [5, 5], fail: false }));
    await expect(duplicate).rejects.toThrow(/duplicate key/);
    const { rows } = await test.database.query<{ id: string }>(`SELECT id FROM ${s}.${name} ORDER BY id`);
    expect(rows.map((row) => row.id)).toEqual(['a-1', 'a-2', 'a-3']);
    const documents = await test.database.query<{ id: string }>(
      `SELECT id FROM ${s}.documents WHERE collection = $1`,
      [name],
    );
    expect(documents.rows.map((row) => row.id)).toEqual(['a']);
  });
});

// PostgreSQL only: PGlite has one connection, so its transactions never overlap.
describe('the unit of work on postgres, beside concurrent transactions', () => {
  it('answers a conflict (409), not a server error, when PostgreSQL ends its commit to break a deadlock', async () => {
    const postgres = engines.find((engine) => engine.name === 'postgres') as (typeof engines)[number];
    const test = await postgres.open();
    await using _dropped = { [Symbol.asyncDispose]: () => test.drop() };
    const Lock = command('counter.lock', unchecked<{ first: number; second: number }>()).returns<void>();
    let arrived = 0;
    let bothHoldOne = () => {};
    const held = new Promise<void>((resolve) => (bothHoldOne = resolve));
    await using app = await createApplication()
      .include(postgresPersistence(test.database))
      .handle(
        handler(Lock, { work: PostgresUnitOfWorkToken }, async (c, { work }) => {
          work.enlist(async (sql) => {
            await sql.query('SELECT pg_advisory_xact_lock($1::bigint)', [c.first]);
            if (++arrived === 2) bothHoldOne();
            await held;
            await sql.query('SELECT pg_advisory_xact_lock($1::bigint)', [c.second]);
          });
          return ok(undefined);
        }),
      )
      .build();
    const [a, b] = [7_700_001, 7_700_002];
    const results = await Promise.all([
      app.mediator.execute(new Lock({ first: a, second: b })),
      app.mediator.execute(new Lock({ first: b, second: a })),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual([200, 409]);
    const refused = results.find((result) => !result.ok);
    expect(refused?.ok === false && refused.problem.detail).toMatch(/deadlock detected/);
  });
});
