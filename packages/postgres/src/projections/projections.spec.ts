import {
  AggregateRoot,
  type Application,
  command,
  createApplication,
  type DocumentModel,
  documents,
  event,
  handler,
  logPosition,
  notFound,
  ok,
  type Projection,
  projection,
  query,
  type Repository,
  type TableModel,
  type TableWriter,
  table,
  token,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Database } from '../database/database.ts';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { appendToStream, PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { progressSignal } from '../subscriptions/logSignal.ts';
import { engines, postgresUrl, type TestDatabase } from '../testing/databases.ts';
import { eventually } from '../testing/eventually.ts';
import { postgresProjections } from './postgresProjections.ts';
import { ProjectionDaemon } from './projectionDaemon.ts';
import { projectionLag } from './projectionLag.ts';
import { projectionSubscription } from './projectionSubscription.ts';
import { documentReader, sqlOf, tableNames } from './readModels.ts';
import { untilServing } from './untilServing.ts';

/** Reads a document read model as a query does, outside any execution (no read-your-writes wait). */
function readerOf<T>(database: Database, model: DocumentModel<T>) {
  return documentReader<T>(database, database.schema, model.modelName, async () => {});
}

/**
 * Counts the looks at a read model's progress made on `database` (the statement read-your-writes shares), as they
 * are answered; given `hold`, the first one's answer is held until it resolves: its snapshot taken, not yet given.
 */
function watchLooks(database: Database, hold?: Promise<void>) {
  const query = database.query.bind(database);
  const watched = { answered: 0, restore: () => spy.mockRestore() };
  const spy = vi.spyOn(database, 'query').mockImplementation(async (text, params, options) => {
    const answer = await query(text, params, options);
    if (text.includes('pg_snapshot_xmax') && ++watched.answered === 1 && hold !== undefined) await hold;
    return answer as never;
  });
  return watched;
}

// A ticket: opened, then closed. Its summary is a document; a table counts the open tickets per queue.
const Opened = event('ticket.opened.v1', unchecked<{ id: string; queue: string; title: string }>());
const Closed = event('ticket.closed.v1', unchecked<{ id: string }>());
type TicketEvent = InstanceType<typeof Opened> | InstanceType<typeof Closed>;
type TicketState = { queue: string; title: string; open: boolean };

class Ticket extends AggregateRoot<TicketState, TicketEvent> {
  constructor(id: string) {
    super(id, { queue: '', title: '', open: false });
  }
  open(queue: string, title: string): void {
    this.raise(new Opened({ id: this.id, queue, title }));
  }
  close(): void {
    this.raise(new Closed({ id: this.id }));
  }
  protected override apply(state: TicketState, e: TicketEvent): TicketState {
    return e instanceof Opened ? { queue: e.queue, title: e.title, open: true } : { ...state, open: false };
  }
}

const Tickets = token<Repository<Ticket>>('Tickets');
const Open = command(
  'ticket.open',
  unchecked<{ id: string; queue: string; title: string }>(),
).returns<string>();
const Close = command('ticket.close', unchecked<{ id: string }>()).returns<void>();

type Summary = { id: string; title: string; queue: string; status: 'open' | 'closed' };

function summaries(name: string, mode: 'inline' | 'async', version = 1) {
  const model = documents<Summary>(name);
  const p = projection(model, { mode, version })
    .on(Opened, (e, docs) => docs.put(e.id, { id: e.id, title: e.title, queue: e.queue, status: 'open' }))
    .on(Closed, async (e, docs) => {
      await docs.update(e.id, (d) => ({ ...d, status: 'closed' }));
    });
  return { model, projection: p };
}

const GetSummary = query('ticket.summary', unchecked<{ id: string }>()).returns<Summary>();

function build(
  database: Database,
  projections: readonly Projection[],
  summaryModel?: DocumentModel<Summary>,
  readYourWritesTimeoutMs = 3000,
): Promise<Application> {
  const builder = createApplication()
    .include(postgresPersistence(database), postgresProjections(projections, { readYourWritesTimeoutMs }))
    .register(postgresEventSourcedRepository(Tickets, Ticket, { events: [Opened, Closed] }));
  if (summaryModel !== undefined) {
    builder.handle(
      handler(GetSummary, { summaries: summaryModel }, async (q, { summaries }) => {
        const found = await summaries.get(q.id);
        return found === undefined ? notFound('Summary', q.id) : ok(found);
      }),
    );
  }
  return builder
    .handle(
      handler(Open, { tickets: Tickets }, async (c, { tickets }) => {
        const ticket = new Ticket(c.id);
        ticket.open(c.queue, c.title);
        await tickets.add(ticket);
        return ok(c.id);
      }),
      handler(Close, { tickets: Tickets }, async (c, { tickets }) => {
        const ticket = await tickets.get(c.id);
        if (ticket === undefined) return notFound('Ticket', c.id);
        ticket.close();
        await tickets.update(ticket);
        return ok(undefined);
      }),
    )
    .build();
}

const fast = { pollMs: 200, leaseRetryMs: 100, onError: () => {} };

describe.each(engines)('projections on $name', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open();
  });
  afterAll(() => test.drop());

  const statusOf = async (name: string, version = 1) =>
    (
      await test.database.query<{ status: string }>(
        `SELECT status FROM ${test.database.schema}.projections WHERE name = $1 AND version = $2`,
        [name, version],
      )
    ).rows[0]?.status;

  /** Whether the log holds an event (of any type) after the checkpoint of a projection's version. */
  const behind = async (name: string, version = 1) =>
    (
      await test.database.query<{ behind: boolean }>(
        `SELECT NOT EXISTS (SELECT FROM ${test.database.schema}.subscriptions WHERE name = $1)
           OR EXISTS (SELECT FROM ${test.database.schema}.events e, ${test.database.schema}.subscriptions s
             WHERE s.name = $1 AND (e.transaction_id, e.sequence) > (s.transaction_id, s.sequence)) AS behind`,
        [projectionSubscription(name, version)],
      )
    ).rows[0]?.behind === true;

  it('an async projection catches up from the start of the log, tails it live, and reads your writes', async () => {
    const { model, projection: p } = summaries('async-summaries', 'async');
    const app = await build(test.database, [p], model);
    // Written before any runner exists: the projection must catch up on them.
    for (let i = 1; i <= 5; i++)
      await app.mediator.execute(new Open({ id: `a${i}`, queue: 'q', title: `t${i}` }));
    const before = (await projectionLag(test.database)).find((lag) => lag.name === 'async-summaries');
    expect(before?.pendingEvents).toBe(5);

    const daemon = new ProjectionDaemon(app, test.database, fast).start();
    const reader = () => readerOf(test.database, model);
    await eventually(async () => (await reader().find()).total === 5, 'caught up');
    expect(await statusOf('async-summaries')).toBe('active');

    const closed = await app.mediator.execute(new Close({ id: 'a3' }));
    expect(closed.ok && closed.position).toBeTruthy();
    const position = closed.ok ? closed.position : undefined;
    const read = await app.mediator.execute(new GetSummary({ id: 'a3' }), {
      minPosition: position,
    });
    expect(read).toMatchObject({ ok: true, data: { id: 'a3', status: 'closed' } });
    expect(
      (await reader().find({ where: { status: 'open' }, sort: [{ field: 'id' }] })).items.map((d) => d.id),
    ).toEqual(['a1', 'a2', 'a4', 'a5']);
    const after = (await projectionLag(test.database)).find((lag) => lag.name === 'async-summaries');
    expect(after).toMatchObject({ status: 'active', mode: 'async', pendingEvents: 0, oldestPendingAgeMs: 0 });
    await daemon.stop();
    await app.dispose();
  });

  it('queries waiting for one read model share one look at its progress after each batch, not one each', async () => {
    // The runner holds its batch until the queries wait: then they all wake when it commits.
    const entered = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    const model = documents<Summary>('shared-look-summaries');
    const p = projection(model).on(Opened, async (e, docs) => {
      if (e.title === 'held') {
        entered.resolve();
        await gate.promise;
      }
      await docs.put(e.id, { id: e.id, title: e.title, queue: e.queue, status: 'open' });
    });
    const app = await build(test.database, [p], model, 10_000);
    const daemon = new ProjectionDaemon(app, test.database, fast).start();
    const looks = watchLooks(test.database);
    try {
      const opened = await app.mediator.execute(new Open({ id: 'held-1', queue: 'q', title: 'held' }));
      if (!opened.ok) throw new Error('not opened');
      await entered.promise;
      looks.answered = 0;
      const waiting = Array.from({ length: 20 }, () =>
        app.mediator.execute(new GetSummary({ id: 'held-1' }), { minPosition: opened.position }),
      );
      // On PostgreSQL their looks on arrival are answered while the batch is held; PGlite's one session answers
      // them after it.
      if (engine.name === 'postgres') await eventually(() => looks.answered >= 1, 'the queries looked');
      const arrivals = looks.answered;
      gate.resolve();
      const reads = await Promise.all(waiting);
      expect(reads.every((read) => read.ok && read.data.id === 'held-1')).toBe(true);
      // Woken by the batch, they share a look (a few, as a look in flight when it committed answers "not yet" to
      // those that joined it, who then look again together). Before, each asked again: 20 more statements here.
      expect(looks.answered - arrivals).toBeLessThanOrEqual(engine.name === 'postgres' ? 4 : 20);
    } finally {
      gate.resolve();
      looks.restore();
      await daemon.stop();
      await app.dispose();
    }
  });

  it('a query sharing a look begun before its write waits for it, not taking it for a guess', async () => {
    const { model, projection: p } = summaries('late-summaries', 'async');
    const app = await build(test.database, [p], model, 10_000);
    // The first look's answer is held after the server gave it: its snapshot is older than the write below.
    const gate = Promise.withResolvers<void>();
    const looks = watchLooks(test.database, gate.promise);
    let daemon: ProjectionDaemon | undefined;
    try {
      const first = await app.mediator.execute(new Open({ id: 'late-1', queue: 'q', title: 't' }));
      if (!first.ok) throw new Error('not opened');
      const firstRead = app.mediator.execute(new GetSummary({ id: 'late-1' }), {
        minPosition: first.position,
      });
      await eventually(() => looks.answered === 1, 'the first look answered');
      const second = await app.mediator.execute(new Open({ id: 'late-2', queue: 'q', title: 't' }));
      if (!second.ok) throw new Error('not opened');
      // Joins the look in flight, whose snapshot began before this write's transaction.
      const secondRead = app.mediator.execute(new GetSummary({ id: 'late-2' }), {
        minPosition: second.position,
      });
      gate.resolve();
      daemon = new ProjectionDaemon(app, test.database, fast).start();
      expect(await secondRead).toMatchObject({ ok: true, data: { id: 'late-2' } });
      expect(await firstRead).toMatchObject({ ok: true, data: { id: 'late-1' } });
    } finally {
      gate.resolve();
      looks.restore();
      await daemon?.stop();
      await app.dispose();
    }
  });

  it('reads its writes from a partitioned read model once every partition has passed the position', async () => {
    const entered = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    const model = documents<Summary>('partitioned-summaries');
    const p = projection(model, { partitions: 2 })
      .on(Opened, (e, docs) => docs.put(e.id, { id: e.id, title: e.title, queue: e.queue, status: 'open' }))
      .on(Closed, async (e, docs) => {
        if (e.id === 'part-held') {
          entered.resolve();
          await gate.promise;
        }
        await docs.update(e.id, (d) => ({ ...d, status: 'closed' }));
      });
    const app = await build(test.database, [p], model, 10_000);
    const daemon = new ProjectionDaemon(app, test.database, fast).start();
    const looks = watchLooks(test.database);
    try {
      await app.mediator.execute(new Open({ id: 'part-held', queue: 'q', title: 't' }));
      await eventually(
        async () => (await readerOf(test.database, model).get('part-held')) !== undefined,
        'opened',
      );
      const closed = await app.mediator.execute(new Close({ id: 'part-held' }));
      if (!closed.ok) throw new Error('not closed');
      await entered.promise; // its partition holds the event; the other one moves past it, having nothing to do
      looks.answered = 0;
      let settled = false;
      const read = app.mediator
        .execute(new GetSummary({ id: 'part-held' }), { minPosition: closed.position })
        .finally(() => (settled = true));
      // On PostgreSQL the read's look is answered while the partition holds the event, and says "not yet";
      // PGlite's one session answers it only once the batch is done.
      if (engine.name === 'postgres') {
        await eventually(() => looks.answered >= 1, 'the read looked at the partitions');
        expect(settled).toBe(false);
      }
      gate.resolve();
      expect(await read).toMatchObject({ ok: true, data: { id: 'part-held', status: 'closed' } });
    } finally {
      gate.resolve();
      looks.restore();
      await daemon.stop();
      await app.dispose();
    }
  });

  it('answers a read at once when no transaction has reached its position yet: a guess, not a write', async () => {
    const { model, projection: p } = summaries('guessed-summaries', 'async');
    // A minute to wait at most: the read must not wait it out for a position no write returned.
    const app = await build(test.database, [p], model, 60_000);
    const daemon = new ProjectionDaemon(app, test.database, fast).start();
    try {
      const opened = await app.mediator.execute(new Open({ id: 'g1', queue: 'q', title: 't' }));
      expect(opened.ok).toBe(true);
      const read = await app.mediator.execute(new GetSummary({ id: 'g1' }), {
        minPosition: logPosition('9000000000000', '1'),
      });
      // Answered with what is there (the runner may or may not have applied g1 yet), well before the minute.
      expect(read.ok || read.status === 404).toBe(true);
    } finally {
      await daemon.stop();
      await app.dispose();
    }
  }, 30_000);

  it('an inline projection is written in the command’s transaction: never behind, even with no runner', async () => {
    const { model, projection: p } = summaries('inline-summaries', 'inline');
    const app = await build(test.database, [p], model);
    // A new inline projection is built (here: from an empty log) and switched to inline by its runner.
    const daemon = new ProjectionDaemon(app, test.database, fast).start();
    await eventually(async () => (await statusOf('inline-summaries')) === 'active', 'active');
    await daemon.stop();

    await app.mediator.execute(new Open({ id: 'i1', queue: 'q', title: 'inline' }));
    expect(await app.mediator.execute(new GetSummary({ id: 'i1' }))).toMatchObject({
      ok: true,
      data: { status: 'open' },
    });
    await app.mediator.execute(new Close({ id: 'i1' }));
    expect(await app.mediator.execute(new GetSummary({ id: 'i1' }))).toMatchObject({
      ok: true,
      data: { status: 'closed' },
    });
    await app.dispose();
  });

  it('a new inline projection on a fresh schema serves at once, with no daemon ever run', async () => {
    const fresh = await engine.open();
    try {
      const { model, projection: p } = summaries('fresh-summaries', 'inline');
      const app = await build(fresh.database, [p], model);
      await app.mediator.execute(new Open({ id: 'f1', queue: 'q', title: 'fresh' }));
      expect(await app.mediator.execute(new GetSummary({ id: 'f1' }))).toMatchObject({
        ok: true,
        data: { id: 'f1', status: 'open' },
      });
      // A second version has the first's events to catch up on: it builds, and the first serves meanwhile.
      const second = summaries('fresh-summaries', 'inline', 2);
      const next = await build(fresh.database, [second.projection], second.model);
      const { rows } = await fresh.database.query<{ version: number; status: string }>(
        `SELECT version, status FROM ${fresh.database.schema}.projections WHERE name = $1 ORDER BY version`,
        ['fresh-summaries'],
      );
      expect(rows).toEqual([
        { version: 1, status: 'active' },
        { version: 2, status: 'building' },
      ]);
      await next.dispose();
      await app.dispose();
    } finally {
      await fresh.drop();
    }
  });

  it('untilServing waits for a daemon to build a projection, says what it waits for, and gives up when aborted', async () => {
    const { model, projection: p } = summaries('awaited-summaries', 'async');
    const app = await build(test.database, [p], model);
    const stop = new AbortController();
    const waitedFor: string[][] = [];
    const aborted = untilServing(test.database, [p], { signal: stop.signal });
    stop.abort();
    await expect(aborted).rejects.toThrow();
    const serving = untilServing(test.database, [p], {
      reportEveryMs: 10,
      onWait: (names) => waitedFor.push([...names]),
    });
    // It is still building, and said so, until a daemon runs.
    await eventually(async () => waitedFor.length > 0, 'a report');
    expect(waitedFor[0]).toEqual(['awaited-summaries']);
    const daemon = new ProjectionDaemon(app, test.database, fast).start();
    await serving;
    expect(await statusOf('awaited-summaries')).toBe('active');
    await daemon.stop();
    await app.dispose();
  });

  it('applies each batch exactly once: a failing handler rolls back its batch and checkpoint together', async () => {
    let failOn: string | undefined = 'e3';
    let applied = 0;
    const model = documents<{ n: number }>('exactly-once');
    const p = projection(model).on(Opened, async (e, docs) => {
      if (!e.id.startsWith('e')) return; // the other tests' tickets share the log
      if (e.id === failOn) throw new Error('boom');
      applied++;
      const current = await docs.get('count');
      await docs.put('count', { n: (current?.n ?? 0) + 1 });
    });
    const app = await build(test.database, [p]);
    for (let i = 1; i <= 5; i++)
      await app.mediator.execute(new Open({ id: `e${i}`, queue: 'q', title: 't' }));
    const daemon = new ProjectionDaemon(app, test.database, { ...fast, batchSize: 100 }).start();
    await eventually(async () => applied >= 4, 'first attempts');
    // The batch failed at e3 each time: nothing of it is stored.
    expect((await readerOf(test.database, model).get('count'))?.n).toBeUndefined();
    failOn = undefined;
    await eventually(async () => (await readerOf(test.database, model).get('count'))?.n === 5, 'count 5');
    await daemon.stop();
    await app.dispose();
  });

  it('builds a new version beside the old one, then switches to it and drops the old read model', async () => {
    type Row = { queue: string; open: number };
    const counts = (version: number, step: number) => {
      const model = table<Row>('open-per-queue', {
        columns: 'queue text PRIMARY KEY, open integer NOT NULL',
        key: ['queue'],
      });
      const bump = async (queue: string, by: number, t: TableWriter<Row>) => {
        const { table, query } = sqlOf(t);
        await query(
          `INSERT INTO ${table} (queue, open) VALUES ($1, $2)
           ON CONFLICT (queue) DO UPDATE SET open = ${table}.open + EXCLUDED.open`,
          [queue, by],
        );
      };
      const p = projection(model, { version }).on(Opened, async (e, t) => {
        if (e.queue !== 'q') await bump(e.queue, step, t); // the other tests' tickets are in queue q
      });
      return { model, projection: p };
    };
    const v1 = counts(1, 1);
    const app1 = await build(test.database, [v1.projection]);
    for (const queue of ['x', 'x', 'y']) {
      await app1.mediator.execute(new Open({ id: crypto.randomUUID(), queue, title: 't' }));
    }
    const daemon1 = new ProjectionDaemon(app1, test.database, fast).start();
    const view = async (_app: Application, model: TableModel<Row>) =>
      (
        await test.database.query<Row>(
          `SELECT queue, open FROM ${tableNames(test.database.schema, model.modelName)} ORDER BY queue`,
        )
      ).rows;
    await eventually(
      async () =>
        JSON.stringify(await view(app1, v1.model)) ===
        JSON.stringify([
          { queue: 'x', open: 2 },
          { queue: 'y', open: 1 },
        ]),
      'v1 built',
    );
    await daemon1.stop();

    // Version 2 counts tens: while it is registered but not built, queries still read version 1.
    const v2 = counts(2, 10);
    const app2 = await build(test.database, [v2.projection]);
    expect(await statusOf('open-per-queue', 2)).toBe('building');
    expect(await view(app2, v2.model)).toEqual([
      { queue: 'x', open: 2 },
      { queue: 'y', open: 1 },
    ]);
    const daemon2 = new ProjectionDaemon(app2, test.database, fast).start();
    await eventually(async () => (await statusOf('open-per-queue', 2)) === 'active', 'v2 active');
    expect(await statusOf('open-per-queue', 1)).toBe('retired');
    expect(await view(app2, v2.model)).toEqual([
      { queue: 'x', open: 20 },
      { queue: 'y', open: 10 },
    ]);
    const { rows } = await test.database.query(
      `SELECT FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'rm_open_per_queue_v1'`,
      [test.database.schemaName],
    );
    expect(rows).toEqual([]);
    await daemon2.stop();
    await app1.dispose();
    await app2.dispose();
  });

  it('an active inline projection’s runner applies the events no commit applied (a direct append), and only those', async () => {
    type Applied = { id: string; applied: number };
    const model = documents<Applied>('inline-marks');
    const p = projection(model, { mode: 'inline' }).on(Opened, async (e, docs) => {
      if (!e.id.startsWith('m')) return; // the other tests' tickets share the log
      const current = await docs.get(e.id);
      await docs.put(e.id, { id: e.id, applied: (current?.applied ?? 0) + 1 });
    });
    const app = await build(test.database, [p]);
    const daemon = new ProjectionDaemon(app, test.database, fast).start();
    await eventually(async () => (await statusOf('inline-marks')) === 'active', 'active');
    await app.mediator.execute(new Open({ id: 'm1', queue: 'q', title: 'by a command' }));
    // Written around the application, as a process running other code (or a script) would.
    await new PostgresEventStore(test.database).append('Ticket-m2', [
      newEvent(Opened.type, { id: 'm2', queue: 'q', title: 'appended' }),
    ]);
    const docs = readerOf(test.database, model);
    await eventually(async () => (await docs.get('m2')) !== undefined, 'm2 applied by the runner');
    await new Promise((resolve) => setTimeout(resolve, 300)); // and m1 not a second time
    await daemon.stop();
    expect((await docs.find({ sort: [{ field: 'id' }] })).items).toEqual([
      { id: 'm1', applied: 1 },
      { id: 'm2', applied: 1 },
    ]);
    await app.dispose();
  });

  it('refuses to change a version’s mode in place', async () => {
    const model = documents<Summary>('mode-change');
    await (await build(test.database, [projection(model, { mode: 'async' })])).dispose();
    await expect(build(test.database, [projection(model, { mode: 'inline' })])).rejects.toThrow(
      "Projection 'mode-change' version 1 was registered as async; raise its version to make it inline",
    );
  });

  it('switches a new version of an inline projection in while commands run: each event applied exactly once', {
    timeout: 30_000,
  }, async () => {
    type Applied = { id: string; applied: number };
    const inlineVersion = (version: number) => {
      const model = documents<Applied>('inline-switch');
      return projection(model, { mode: 'inline', version }).on(Opened, async (e, docs) => {
        if (!e.id.startsWith('s')) return; // the other tests' tickets share the log
        const current = await docs.get(e.id);
        await docs.put(e.id, { id: e.id, applied: (current?.applied ?? 0) + 1 });
      });
    };
    const v1 = inlineVersion(1);
    const app1 = await build(test.database, [v1]);
    const daemon1 = new ProjectionDaemon(app1, test.database, fast).start();
    await eventually(async () => (await statusOf('inline-switch', 1)) === 'active', 'v1 active');
    await daemon1.stop();
    let opened = 0;
    const open = async (app: Application) => {
      const id = `s${++opened}`;
      const result = await app.mediator.execute(new Open({ id, queue: 'q', title: 't' }));
      if (!result.ok) throw new Error(`open ${id}: ${result.problem.detail}`);
    };
    for (let i = 0; i < 20; i++) await open(app1);

    // Version 2 is deployed while commands keep coming: some commit while it catches up, some during the switch.
    const app2 = await build(test.database, [inlineVersion(2)]);
    let writing = true;
    // Steady, not flat out: on PGlite's one connection, writers at full speed would starve the catch-up.
    const writers = [0, 1, 2].map(async () => {
      while (writing) {
        await open(app2);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    const daemon2 = new ProjectionDaemon(app2, test.database, { ...fast, batchSize: 5 }).start();
    try {
      await eventually(async () => (await statusOf('inline-switch', 2)) === 'active', 'v2 active', 15_000);
      for (let i = 0; i < 10; i++) await open(app2); // and after it
    } finally {
      writing = false;
      await Promise.all(writers);
      await daemon2.stop();
    }

    const { rows } = await test.database.query<{ doc: Applied }>(
      `SELECT doc FROM ${test.database.schema}.read_documents WHERE model = 'inline-switch@2'`,
    );
    expect(rows.length).toBe(opened);
    expect(rows.filter((row) => row.doc.applied !== 1)).toEqual([]);
    expect(await statusOf('inline-switch', 1)).toBe('retired');
    const old = await test.database.query(
      `SELECT FROM ${test.database.schema}.read_documents WHERE model = 'inline-switch@1'`,
    );
    expect(old.rows).toEqual([]);
    await app1.dispose();
    await app2.dispose();
  });

  it('reads its writes when the write is an event of a type the read model does not handle', async () => {
    const model = documents<Summary>('opened-only');
    const p = projection(model).on(Opened, (e, docs) =>
      docs.put(e.id, { id: e.id, title: e.title, queue: e.queue, status: 'open' }),
    );
    // A minute to wait at most: a runner that never moves past the event would keep the read waiting past the test.
    const app = await build(test.database, [p], model, 60_000);
    const daemon = new ProjectionDaemon(app, test.database, fast).start();
    try {
      const opened = await app.mediator.execute(new Open({ id: 'other-1', queue: 'q', title: 't' }));
      if (!opened.ok) throw new Error('not opened');
      // Applied first: the close comes after the checkpoint, in a read that finds nothing the projection handles.
      await app.mediator.execute(new GetSummary({ id: 'other-1' }), { minPosition: opened.position });
      const closed = await app.mediator.execute(new Close({ id: 'other-1' }));
      if (!closed.ok) throw new Error('not closed');
      const read = await app.mediator.execute(new GetSummary({ id: 'other-1' }), {
        minPosition: closed.position,
      });
      expect(read).toMatchObject({ ok: true, data: { id: 'other-1', status: 'open' } });
      expect(await behind('opened-only')).toBe(false);
    } finally {
      await daemon.stop();
      await app.dispose();
    }
  });

  it('an idle runner writes no checkpoint and signals no progress, however often it reads the log', async () => {
    const { model, projection: p } = summaries('idle-summaries', 'async');
    const app = await build(test.database, [p], model);
    await app.mediator.execute(new Open({ id: 'idle-1', queue: 'q', title: 't' }));
    const daemon = new ProjectionDaemon(app, test.database, { ...fast, pollMs: 10 }).start();
    const query = test.database.query.bind(test.database);
    const counted = { reads: 0, writes: 0 };
    let readsDone: PromiseWithResolvers<void> | undefined;
    const spy = vi.spyOn(test.database, 'query').mockImplementation(async (text, params, options) => {
      if (text.includes('subscriptions SET transaction_id')) counted.writes++;
      const answer = await query(text, params, options);
      if (text.includes('AS horizon') && ++counted.reads >= 20) readsDone?.resolve();
      return answer as never;
    });
    try {
      await eventually(
        async () => (await statusOf('idle-summaries')) === 'active' && !(await behind('idle-summaries')),
        'caught up',
      );
      // From here on nothing is appended: the horizon still moves, with every transaction id taken (this runner's
      // row lock, and before, its own checkpoint writes), but there is no event to move past.
      const progress = progressSignal(test.database).generation;
      counted.reads = 0;
      counted.writes = 0;
      readsDone = Promise.withResolvers<void>();
      await readsDone.promise;
      expect(counted.writes).toBe(0);
      expect(progressSignal(test.database).generation).toBe(progress);
    } finally {
      spy.mockRestore();
      await daemon.stop();
      await app.dispose();
    }
  });

  it('a version switched in by an idle step signals progress once committed: no query joins an older look', async () => {
    // Its type is never appended: each version reads nothing it handles, and is switched in by an idle step.
    const Reopened = event('ticket.reopened.v1', unchecked<{ id: string }>());
    const version = (v: number) =>
      projection(documents<Summary>('idle-switch'), { version: v }).on(Reopened, () => {});
    const app1 = await build(test.database, [version(1)]);
    const daemon1 = new ProjectionDaemon(app1, test.database, fast).start();
    await eventually(async () => (await statusOf('idle-switch', 1)) === 'active', 'v1 active');
    await daemon1.stop();
    const app2 = await build(test.database, [version(2)]);
    // The progress signal's generation as the switch is about to commit: a look begun then would note it, and a
    // query would join that look, its answer about version 1, for as long as no progress is signalled.
    const progress = progressSignal(test.database);
    const switching = Promise.withResolvers<number>();
    const transaction = test.database.transaction.bind(test.database);
    const spy = vi.spyOn(test.database, 'transaction').mockImplementation((work, options) =>
      transaction(async (sql) => {
        const done = await work(sql);
        const { rows } = await sql.query<{ status: string }>(
          `SELECT status FROM ${test.database.schema}.projections WHERE name = 'idle-switch' AND version = 2`,
        );
        if (rows[0]?.status === 'active') switching.resolve(progress.generation);
        return done;
      }, options),
    );
    // Polling once a minute: no later read of the runner signals anything within the test.
    const daemon2 = new ProjectionDaemon(app2, test.database, { ...fast, pollMs: 60_000 }).start();
    try {
      const before = await switching.promise;
      expect(await progress.wait(5_000, undefined, before)).toBe(true);
      expect(await statusOf('idle-switch', 1)).toBe('retired');
    } finally {
      spy.mockRestore();
      await daemon2.stop();
      await app1.dispose();
      await app2.dispose();
    }
  });
});

describe('projection runners in several processes on PostgreSQL', () => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await (engines.find((e) => e.name === 'postgres') as (typeof engines)[number]).open();
  });
  afterAll(() => test.drop());

  it('with concurrent writers and one long-open transaction, ends with every event exactly once', {
    timeout: 30_000,
  }, async () => {
    type Applied = { id: string; applied: number };
    const model = documents<Applied>('late-writers');
    const p = projection(model).on(Opened, async (e, docs) => {
      if (!e.id.startsWith('w')) return; // the other tests' tickets share the log
      const current = await docs.get(e.id);
      await docs.put(e.id, { id: e.id, applied: (current?.applied ?? 0) + 1 });
    });
    const app = await build(test.database, [p]);
    const daemon = new ProjectionDaemon(app, test.database, { ...fast, batchSize: 7 }).start();
    let commit: () => void = () => {};
    const held = new Promise<void>((resolve) => (commit = resolve));
    let begun: () => void = () => {};
    const written = new Promise<void>((resolve) => (begun = resolve));
    const late = test.database.transaction(async (sql) => {
      const event = newEvent(Opened.type, { id: 'w-late', queue: 'q', title: 'late' });
      await appendToStream(sql, test.database.schema, 'Ticket-w-late', [event], 'no_stream');
      begun();
      await held;
    });
    await written;
    let opened = 0;
    const writers = [0, 1, 2].map(async () => {
      for (let i = 0; i < 20; i++) {
        await app.mediator.execute(new Open({ id: `w${++opened}`, queue: 'q', title: 't' }));
      }
    });
    await Promise.all(writers);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Nothing after the open transaction is projected yet: the runner stops at the horizon.
    expect((await readerOf(test.database, model).find()).total).toBe(0);
    commit();
    await late;
    await eventually(async () => (await readerOf(test.database, model).find()).total === 61, 'all 61');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await daemon.stop();
    const all = await readerOf(test.database, model).find({ pageSize: 100 });
    expect(all.total).toBe(61);
    expect(all.items.filter((doc) => doc.applied !== 1)).toEqual([]);
    await app.dispose();
  });

  it('run one active runner per projection; a standby takes over when the active one stops', async () => {
    const handles = [0, 1].map(() =>
      postgresDatabase({ connectionString: postgresUrl, schema: test.database.schemaName }),
    );
    const { model, projection: p } = summaries('failover-summaries', 'async');
    const apps = await Promise.all(handles.map((database) => build(database, [p])));
    const reader = () => readerOf(test.database, model);
    // The first process's daemon starts alone, so it is the active one; the second's waits as a standby.
    const first = new ProjectionDaemon(apps[0] as Application, handles[0] as Database, fast).start();
    for (let i = 1; i <= 10; i++)
      await apps[0]?.mediator.execute(new Open({ id: `f${i}`, queue: 'q', title: 't' }));
    // The other tests' tickets share the log: count this test's, f1 to f15.
    const ours = async () =>
      (await reader().find({ pageSize: 500 })).items.filter((doc) => /^f\d+$/.test(doc.id)).length;
    await eventually(async () => (await ours()) === 10, 'first ten');
    const standby = new ProjectionDaemon(apps[1] as Application, handles[1] as Database, fast).start();
    const leases = async () =>
      (
        await test.database.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND database =
             (SELECT oid FROM pg_database WHERE datname = current_database())
             AND objid = (hashtextextended($1, 0) & 4294967295)::oid`,
          [`myelin.subscription:${test.database.schemaName}:projection:failover-summaries:v1`],
        )
      ).rows[0]?.n ?? 0;
    expect(await leases()).toBe(1);

    await first.stop(); // the active process goes away
    for (let i = 11; i <= 15; i++)
      await apps[1]?.mediator.execute(new Open({ id: `f${i}`, queue: 'q', title: 't' }));
    const started = Date.now();
    await eventually(async () => (await ours()) === 15, 'taken over');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await leases()).toBe(1);
    await standby.stop();
    for (const app of apps) await app.dispose();
    for (const database of handles) await database.close();
  });

  it('a query arriving once another process has applied its write answers at once, whatever looks are in flight', {
    timeout: 60_000,
  }, async () => {
    const [projector, api] = [0, 1].map(() =>
      postgresDatabase({ connectionString: postgresUrl, schema: test.database.schemaName }),
    ) as [Database, Database];
    const { model, projection: p } = summaries('arriving-summaries', 'async');
    const long = 30_000;
    const projectorApp = await build(projector, [p]);
    const apiApp = await build(api, [p], model, long);
    // The first query's look is answered "not yet", and that answer held, while the projector applies the write.
    const gate = Promise.withResolvers<void>();
    const looks = watchLooks(api, gate.promise);
    let daemon: ProjectionDaemon | undefined;
    try {
      const opened = await apiApp.mediator.execute(new Open({ id: 'arr-1', queue: 'q', title: 't' }));
      if (!opened.ok) throw new Error('not opened');
      const first = apiApp.mediator.execute(new GetSummary({ id: 'arr-1' }), {
        minPosition: opened.position,
      });
      await eventually(() => looks.answered === 1, 'the first look answered');
      const notified = vi.spyOn(projector, 'notify');
      daemon = new ProjectionDaemon(projectorApp, projector, { ...fast, pollMs: long }).start();
      await eventually(
        async () => (await readerOf(api, model).get('arr-1')) !== undefined,
        'applied by the projector',
      );
      // Its progress told, while nothing in the API process listened yet.
      await eventually(
        () => notified.mock.calls.some(([channel]) => channel.includes('progress')),
        'the projector told of its progress',
      );
      // Arriving now, it may share the held look, whose "not yet" predates the write's application: it must not
      // then wait for a notification the projector sent before this process listened.
      const started = performance.now();
      const second = apiApp.mediator.execute(new GetSummary({ id: 'arr-1' }), {
        minPosition: opened.position,
      });
      await new Promise((resolve) => setImmediate(resolve));
      gate.resolve();
      expect(await second).toMatchObject({ ok: true, data: { id: 'arr-1' } });
      expect(performance.now() - started).toBeLessThan(long / 3);
      expect(await first).toMatchObject({ ok: true, data: { id: 'arr-1' } });
    } finally {
      gate.resolve();
      looks.restore();
      await daemon?.stop();
      await projectorApp.dispose();
      await apiApp.dispose();
      await projector.close();
      await api.close();
    }
  });

  it('reads its writes from a read model another process projects, woken by notifications, not by a timeout', {
    timeout: 60_000,
  }, async () => {
    const [projector, api] = [0, 1].map(() =>
      postgresDatabase({ connectionString: postgresUrl, schema: test.database.schemaName }),
    ) as [Database, Database];
    const { model, projection: p } = summaries('remote-summaries', 'async');
    // The API process waits up to 30 s for its writes; the projector polls every 30 s. Only the two
    // notifications (the API's commit to the projector, the projector's progress back) can make it quick.
    const long = 30_000;
    const projectorApp = await build(projector, [p]);
    const apiApp = await build(api, [p], model, long);
    const daemon = new ProjectionDaemon(projectorApp, projector, { ...fast, pollMs: long }).start();
    try {
      await apiApp.mediator.execute(new Open({ id: 'r1', queue: 'q', title: 't' }));
      for (const step of ['open', 'closed'] as const) {
        const started = performance.now();
        const written =
          step === 'open'
            ? await apiApp.mediator.execute(new Open({ id: 'r2', queue: 'q', title: 't' }))
            : await apiApp.mediator.execute(new Close({ id: 'r2' }));
        const read = await apiApp.mediator.execute(new GetSummary({ id: 'r2' }), {
          minPosition: written.ok ? written.position : undefined,
        });
        expect(read).toMatchObject({ ok: true, data: { id: 'r2', status: step } });
        expect(performance.now() - started).toBeLessThan(10_000);
      }
    } finally {
      await daemon.stop();
      await projectorApp.dispose();
      await apiApp.dispose();
      await projector.close();
      await api.close();
    }
  });
});
