import { type Application, createApplication, type Module } from '../application/application.ts';
import { token } from '../dependencyInjection/token.ts';
import { AggregateRoot } from '../domain/aggregateRoot.ts';
import type { LogPosition } from '../log/logPosition.ts';
import { handler } from '../mediation/handler.ts';
import { command, event, query, unchecked } from '../messages/message.ts';
import { EventStore } from '../persistence/eventStore.ts';
import type { FindQuery, Page, Repository } from '../persistence/repository.ts';
import { type Projection, projection } from '../projections/projection.ts';
import { documents, table } from '../projections/readModel.ts';
import { type OperationResult, ok } from '../results/operationResult.ts';
import { SpecificationError } from './aggregateSpec.ts';
import { type ContractCase, expectEqual, uniqueName } from './contract.ts';
import { newEvent } from './events.ts';
import { expectSuccess } from './handlerSpec.ts';
import type { PersistenceUnderTest } from './repositoryContract.ts';

/** What the projection contract runs against: persistence, its projections module, and what runs projections. */
export interface ProjectionsUnderTest extends Pick<PersistenceUnderTest, 'persistence' | 'eventSourced'> {
  /** The adapter's projections module (`inMemoryProjections`, `postgresProjections`). */
  projections(
    projections: readonly Projection[],
    options: { readonly readYourWritesTimeoutMs?: number },
  ): Module;
  /** What runs an application's async projections and new versions (a daemon), not yet started. */
  runner(app: Application): { start(): unknown; stop(): Promise<void> };
  /** Resolves once each named projection's newest version serves and has applied the whole log. */
  caughtUp(app: Application, names: readonly string[]): Promise<void>;
}

type Totals = { total: number; ticks: number };
type Row = { counter: string; total: number; ticks: number };

/**
 * One case's world: its own event type, aggregate, commands and read models (unique names), so that cases sharing
 * a database never see each other's events.
 */
function world(subject: ProjectionsUnderTest) {
  const tag = uniqueName('p');
  const Ticked = event(`contract.${tag}.ticked`, unchecked<{ counter: string; by: number }>());
  type Ticked = InstanceType<typeof Ticked>;
  class Counter extends AggregateRoot<{ total: number }, Ticked> {
    constructor(id: string) {
      super(id, { total: 0 });
    }
    tick(by: number): void {
      this.raise(new Ticked({ counter: this.id, by }));
    }
    protected override apply(state: { total: number }, e: Ticked): { total: number } {
      return { total: state.total + e.by };
    }
  }
  const Counters = token<Repository<Counter>>(`contract.${tag}.counters`);
  const Tick = command(`contract.${tag}.tick`, unchecked<{ counter: string; by: number }>()).returns<void>();
  const tick = handler(Tick, { counters: Counters }, async ({ counter, by }, { counters }) => {
    const found = await counters.get(counter);
    const target = found ?? new Counter(counter);
    target.tick(by);
    await (found === undefined ? counters.add(target) : counters.update(target));
    return ok(undefined);
  });
  const totals = documents<Totals>(`${tag}-totals`);
  const rows = table<Row, 'counter'>(`${tag}-rows`, {
    columns: 'counter text PRIMARY KEY, total integer NOT NULL, ticks integer NOT NULL',
    key: ['counter'],
  });
  /** Sums per counter; `scale` tells versions apart, a negative tick fails (to test what a failure undoes). */
  const sums = (options: {
    mode: 'inline' | 'async';
    version?: number;
    scale?: number;
    partitions?: number;
  }) =>
    projection(totals, {
      mode: options.mode,
      version: options.version ?? 1,
      partitions: options.partitions ?? 1,
    }).on(Ticked, async (e, docs) => {
      if (e.by < 0) throw new Error('a negative tick');
      const by = e.by * (options.scale ?? 1);
      const updated = await docs.update(e.counter, (d) => ({ total: d.total + by, ticks: d.ticks + 1 }));
      if (!updated) await docs.put(e.counter, { total: by, ticks: 1 });
    });
  const rowsProjection = projection(rows, { mode: 'inline' }).on(Ticked, async (e, t) => {
    if (e.by === 0) return t.delete({ counter: e.counter });
    const updated = await t.update({ counter: e.counter }, (r) => ({
      ...r,
      total: r.total + e.by,
      ticks: r.ticks + 1,
    }));
    if (!updated) await t.upsert({ counter: e.counter, total: e.by, ticks: 1 });
  });
  const Read = query(`contract.${tag}.read`, unchecked<{ counter: string }>()).returns<Totals | null>();
  const read = handler(Read, { totals }, async ({ counter }, deps) =>
    ok((await deps.totals.get(counter)) ?? null),
  );
  const ReadRow = query(`contract.${tag}.row`, unchecked<{ counter: string }>()).returns<Row | null>();
  const readRow = handler(ReadRow, { rows }, async ({ counter }, deps) =>
    ok((await deps.rows.get({ counter })) ?? null),
  );

  const SearchTotals = query(`contract.${tag}.searchTotals`, unchecked<FindQuery<Totals>>()).returns<
    Page<Totals>
  >();
  const searchTotals = handler(SearchTotals, { totals }, async (q, deps) => ok(await deps.totals.find(q)));
  const SearchRows = query(`contract.${tag}.searchRows`, unchecked<FindQuery<Row>>()).returns<Page<Row>>();
  const searchRows = handler(SearchRows, { rows }, async (q, deps) => ok(await deps.rows.find(q)));

  const build = (projections: readonly Projection[], readYourWritesTimeoutMs = 5000): Promise<Application> =>
    createApplication()
      .include(subject.persistence, subject.projections(projections, { readYourWritesTimeoutMs }))
      .register(subject.eventSourced(Counters, Counter, { events: [Ticked], stream: tag }))
      .handle(tick)
      // The queries of the read models these projections write (a handler of another would not build).
      .handle(...(projections.some((p) => p.model === totals) ? [read, searchTotals] : []))
      .handle(...(projections.some((p) => p.model === rows) ? [readRow, searchRows] : []))
      .build();
  const send = async (app: Application, counter: string, by: number): Promise<LogPosition> => {
    const result = await app.mediator.execute(new Tick({ counter, by }));
    if (!result.ok || result.position === undefined)
      throw new SpecificationError(`tick ${by} of ${counter} did not commit`);
    return result.position;
  };
  const totalsOf = async (app: Application, counter: string, minPosition?: LogPosition) =>
    expectSuccess(await app.mediator.execute(new Read({ counter }), { minPosition }));
  const rowOf = async (app: Application, counter: string) =>
    expectSuccess(await app.mediator.execute(new ReadRow({ counter })));
  const search = {
    totals: async (app: Application, q: FindQuery<Totals>) =>
      expectSuccess(await app.mediator.execute(new SearchTotals(q))),
    rows: async (app: Application, q: FindQuery<Row>) =>
      expectSuccess(await app.mediator.execute(new SearchRows(q))),
  };
  return { tag, Tick, Ticked, sums, rowsProjection, build, send, totalsOf, rowOf, search };
}

/**
 * The projection contract: what every adapter that stores read models and runs projections must do — inline
 * projections written in the command's commit (or not at all), async ones applied after it exactly once from a
 * checkpoint, new versions rebuilt beside the old and switched in, read-your-writes bounded, and the read models'
 * reads and writes.
 */
export function projectionContract(): ContractCase<ProjectionsUnderTest>[] {
  return [
    {
      name: 'an inline projection is readable as soon as the command returns, with no runner',
      async run(subject) {
        const w = world(subject);
        await using app = await w.build([w.sums({ mode: 'inline' })]);
        await w.send(app, 'a', 2);
        await w.send(app, 'a', 3);
        expectEqual(await w.totalsOf(app, 'a'), { total: 5, ticks: 2 }, 'the totals after two ticks');
        expectEqual(await w.totalsOf(app, 'b'), null, 'a counter never ticked');
      },
    },
    {
      name: 'a failing inline projection fails the command, and neither its events nor its state land',
      async run(subject) {
        const w = world(subject);
        await using app = await w.build([w.sums({ mode: 'inline' })]);
        await w.send(app, 'a', 2);
        let result: OperationResult<void> | undefined;
        try {
          result = await app.mediator.execute(new w.Tick({ counter: 'a', by: -1 }));
        } catch {
          result = undefined; // a thrown error fails the command as surely as a failure result
        }
        if (result?.ok === true)
          throw new SpecificationError('the command succeeded though its projection failed');
        const stream = await app.container.root.resolve(EventStore).readStream(`${w.tag}-a`);
        expectEqual(stream.length, 1, 'the events of the counter after the failed command');
        expectEqual(
          await w.totalsOf(app, 'a'),
          { total: 2, ticks: 1 },
          'the totals after the failed command',
        );
        await w.send(app, 'a', 1); // and the aggregate was left as it was: its version still fits
        expectEqual(await w.totalsOf(app, 'a'), { total: 3, ticks: 2 }, 'the totals after one more tick');
      },
    },
    {
      name: 'an async projection is applied by its runner; a query reading its writes waits for it, bounded',
      async run(subject) {
        const w = world(subject);
        const sums = w.sums({ mode: 'async' });
        await using app = await w.build([sums], 100);
        const at = await w.send(app, 'a', 4);
        // With no runner, the wait is bounded (100 ms here) and the query answers what is there.
        expectEqual(await w.totalsOf(app, 'a', at), null, 'the totals read before any runner ran');
        await running(subject, [app], async () => {
          await subject.caughtUp(app, [sums.name]);
          expectEqual(await w.totalsOf(app, 'a', at), { total: 4, ticks: 1 }, 'the totals once run');
        });
      },
    },
    {
      name: 'read-your-writes: a query given a command’s position sees that command’s effects',
      async run(subject) {
        const w = world(subject);
        await using app = await w.build([w.sums({ mode: 'async' })]);
        await running(subject, [app], async () => {
          for (let i = 1; i <= 3; i++) {
            const at = await w.send(app, 'a', 1);
            expectEqual(
              await w.totalsOf(app, 'a', at),
              { total: i, ticks: i },
              `the totals read after tick ${i}`,
            );
          }
        });
      },
    },
    {
      name: 'a runner restarted goes on from its checkpoint: each event is applied exactly once',
      async run(subject) {
        const w = world(subject);
        const sums = w.sums({ mode: 'async' });
        await using first = await w.build([sums]);
        const runner = subject.runner(first);
        runner.start();
        for (let i = 0; i < 3; i++) await w.send(first, 'a', 1);
        await subject.caughtUp(first, [sums.name]);
        await runner.stop();
        for (let i = 0; i < 2; i++) await w.send(first, 'a', 1);
        await using second = await w.build([sums]); // another process, say, after a restart
        await running(subject, [second], async () => {
          await subject.caughtUp(second, [sums.name]);
          expectEqual(await w.totalsOf(second, 'a'), { total: 5, ticks: 5 }, 'the totals after the restart');
        });
      },
    },
    {
      name: 'two runners at once apply each event once',
      async run(subject) {
        const w = world(subject);
        const sums = w.sums({ mode: 'async' });
        await using one = await w.build([sums]);
        await using two = await w.build([sums]);
        await running(subject, [one, two], async () => {
          for (let i = 0; i < 6; i++) await w.send(i % 2 === 0 ? one : two, 'a', 1);
          await subject.caughtUp(one, [sums.name]);
          expectEqual(await w.totalsOf(two, 'a'), { total: 6, ticks: 6 }, 'the totals after six ticks');
        });
      },
    },
    {
      name: 'a partitioned projection, run by two runners, applies each event once and reads its writes',
      async run(subject) {
        const w = world(subject);
        const sums = w.sums({ mode: 'async', partitions: 4 });
        await using one = await w.build([sums]);
        await using two = await w.build([sums]);
        const counters = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
        await running(subject, [one, two], async () => {
          let last: LogPosition | undefined;
          for (let i = 0; i < 24; i++)
            last = await w.send(i % 2 === 0 ? one : two, counters[i % 8] as string, i);
          // Every partition has read as far as the last tick: every counter's totals are there.
          for (const [k, counter] of counters.entries()) {
            // Ticked by k, k + 8 and k + 16.
            const expected = { total: 3 * k + 24, ticks: 3 };
            expectEqual(await w.totalsOf(one, counter, last), expected, `the totals of ${counter}`);
          }
          await subject.caughtUp(two, [sums.name]);
        });
      },
    },
    {
      name: 'a partitioned version is built beside the one serving, and serves once every partition caught up',
      async run(subject) {
        const w = world(subject);
        await using first = await w.build([w.sums({ mode: 'async' })]);
        await running(subject, [first], async () => {
          for (const counter of ['a', 'b', 'c']) await w.send(first, counter, 1);
          await subject.caughtUp(first, [w.sums({ mode: 'async' }).name]);
        });
        const v2 = w.sums({ mode: 'async', version: 2, scale: 10, partitions: 3 });
        await using second = await w.build([v2]);
        expectEqual(await w.totalsOf(second, 'a'), { total: 1, ticks: 1 }, 'the totals while v2 builds');
        await running(subject, [second], async () => {
          await subject.caughtUp(second, [v2.name]);
          for (const counter of ['a', 'b', 'c'])
            expectEqual(
              await w.totalsOf(second, counter),
              { total: 10, ticks: 1 },
              `v2's totals of ${counter}`,
            );
          const at = await w.send(second, 'c', 2);
          expectEqual(await w.totalsOf(second, 'c', at), { total: 30, ticks: 2 }, 'the totals after a tick');
        });
      },
    },
    {
      name: 'a new version is rebuilt from the whole log beside the one serving, then takes over',
      async run(subject) {
        const w = world(subject);
        await using first = await w.build([w.sums({ mode: 'inline' })]);
        await w.send(first, 'a', 1);
        await w.send(first, 'a', 2);
        const v2 = w.sums({ mode: 'inline', version: 2, scale: 10 });
        await using second = await w.build([v2]);
        // Until the new version has caught up, the old one serves.
        expectEqual(await w.totalsOf(second, 'a'), { total: 3, ticks: 2 }, 'the totals while v2 builds');
        await running(subject, [second], async () => {
          await subject.caughtUp(second, [v2.name]);
          expectEqual(await w.totalsOf(second, 'a'), { total: 30, ticks: 2 }, 'the totals v2 rebuilt');
          await w.send(second, 'a', 1); // and v2, inline now, is written in the command's commit
          expectEqual(await w.totalsOf(second, 'a'), { total: 40, ticks: 3 }, 'the totals after a tick');
        });
      },
    },
    {
      name: 'events appended straight to the event store reach an inline projection',
      async run(subject) {
        const w = world(subject);
        const sums = w.sums({ mode: 'inline' });
        await using app = await w.build([sums]);
        await running(subject, [app], async () => {
          const appended = await app.container.root
            .resolve(EventStore)
            .append(`${w.tag}-z`, [newEvent(w.Ticked.type, { counter: 'z', by: 7 })]);
          await subject.caughtUp(app, [sums.name]);
          expectEqual(
            await w.totalsOf(app, 'z', appended.lastPosition),
            { total: 7, ticks: 1 },
            'the totals of an appended event',
          );
        });
      },
    },
    {
      name: 'a table read model: rows by key are upserted, changed, deleted, read and searched',
      async run(subject) {
        const w = world(subject);
        await using app = await w.build([w.rowsProjection]);
        await w.send(app, 'a', 2);
        await w.send(app, 'a', 3);
        await w.send(app, 'b', 1);
        expectEqual(await w.rowOf(app, 'a'), { counter: 'a', total: 5, ticks: 2 }, 'the row of a');
        await w.send(app, 'b', 0); // deletes the row
        expectEqual(await w.rowOf(app, 'b'), null, 'the row deleted');
        await w.send(app, 'c', 9);
        const page = await w.search.rows(app, {
          sort: [{ field: 'total', direction: 'desc' }],
          pageSize: 1,
          page: 2,
        });
        expectEqual(
          page,
          { items: [{ counter: 'a', total: 5, ticks: 2 }], total: 2, page: 2, pageSize: 1 },
          'page 2',
        );
        const found = await w.search.rows(app, { where: { counter: { in: ['c', 'x'] } } });
        expectEqual(found.items, [{ counter: 'c', total: 9, ticks: 1 }], 'the rows of counter c or x');
      },
    },
    {
      name: 'a document read model is searched by field, sorted and paged',
      async run(subject) {
        const w = world(subject);
        await using app = await w.build([w.sums({ mode: 'inline' })]);
        for (const [counter, by] of [
          ['a', 3],
          ['b', 1],
          ['c', 3],
          ['d', 2],
        ] as const)
          await w.send(app, counter, by);
        const threes = await w.search.totals(app, { where: { total: 3 } });
        expectEqual(threes.total, 2, 'how many documents total 3');
        const sorted = await w.search.totals(app, {
          sort: [{ field: 'total', direction: 'asc' }],
          pageSize: 3,
        });
        expectEqual(
          sorted.items.map((d) => d.total),
          [1, 2, 3],
          'the first page of totals, ascending',
        );
        expectEqual(sorted.total, 4, 'the total of the search');
      },
    },
  ];
}

/** Runs `body` while a runner runs for each application, and stops them whatever happens. */
async function running(
  subject: ProjectionsUnderTest,
  apps: readonly Application[],
  body: () => Promise<void>,
): Promise<void> {
  const runners = apps.map((app) => subject.runner(app));
  for (const runner of runners) runner.start();
  try {
    await body();
  } finally {
    await Promise.all(runners.map((runner) => runner.stop()));
  }
}
