// Traces on PostgreSQL: a command's commit in its span; the events it stores carry its trace, which the relay's
// delivery continues later, with no span active; and a projection batch links to the traces of its events.
import {
  AggregateRoot,
  command,
  createApplication,
  documents,
  event,
  eventHandler,
  handler,
  ok,
  projection,
  type Repository,
  Schedule,
  TestClock,
  token,
  tracing,
  unchecked,
} from '@myelin/core';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from './eventStore/postgresEventStore.ts';
import { postgresPersistence } from './postgresPersistence.ts';
import { postgresProjections } from './projections/postgresProjections.ts';
import { ProjectionDaemon } from './projections/projectionDaemon.ts';
import { untilServing } from './projections/untilServing.ts';
import { EventRelay } from './relay/eventRelay.ts';
import { postgresEventSourcedRepository } from './repositories/eventSourcedRepository.ts';
import { PostgresMessageScheduler } from './scheduling/postgresMessageScheduler.ts';
import { engines, type TestDatabase } from './testing/databases.ts';

const exporter = new InMemorySpanExporter();
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});
afterAll(() => {
  trace.disable();
  context.disable();
});

const Filed = event('trace.filed.v1', unchecked<{ id: string; n: number }>());
class Ticket extends AggregateRoot<{ n: number }, InstanceType<typeof Filed>> {
  constructor(id: string) {
    super(id, { n: 0 });
  }
  file(n: number): void {
    this.raise(new Filed({ id: this.id, n }));
  }
  protected override apply(state: { n: number }): { n: number } {
    return { n: state.n + 1 };
  }
}
const Tickets = token<Repository<Ticket>>('Tickets');
const File = command('File', unchecked<{ id: string; count: number }>()).returns<void>();
const fileTickets = handler(File, { tickets: Tickets }, async ({ id, count }, { tickets }) => {
  const ticket = new Ticket(id);
  for (let n = 1; n <= count; n++) ticket.file(n);
  await tickets.add(ticket);
  return ok(undefined);
});

describe.each(engines)('a trace through the log on $name', (engine) => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await engine.open();
  });
  afterAll(() => test.drop());

  it('is continued by the relay: the handler of an event stored by a command is in the command’s trace', async () => {
    const handled: string[] = [];
    await using app = await createApplication()
      .include(postgresPersistence(test.database))
      .use(tracing())
      .register(postgresEventSourcedRepository(Tickets, Ticket, { events: [Filed] }))
      .handle(
        fileTickets,
        eventHandler({ name: 'trace.count' }, Filed, async (e) => {
          handled.push(`${e.id}:${e.n}`);
        }),
      )
      .build();
    // One event (the statement's parameters) and three (its JSON array): both store the trace context.
    for (const [id, count] of [
      ['one', 1],
      ['three', 3],
    ] as const) {
      exporter.reset();
      handled.length = 0;
      expect((await app.mediator.execute(new File({ id, count }))).ok).toBe(true);
      const request = exporter.getFinishedSpans().find((span) => span.name === 'process File');
      const traceId = request?.spanContext().traceId as string;
      const stored = await new PostgresEventStore(test.database).readStream(`Ticket-${id}`);
      expect(stored.map((e) => e.metadata.traceparent?.split('-')[1])).toEqual(Array(count).fill(traceId));

      await using relay = new EventRelay(app, test.database, { pollMs: 100, leaseRetryMs: 100 }).start();
      while (handled.length < count) await new Promise((resolve) => setTimeout(resolve, 20));
      await relay.stop();
      const deliveries = exporter.getFinishedSpans().filter((span) => span.name === 'process trace.filed.v1');
      expect(deliveries).toHaveLength(count);
      for (const delivery of deliveries) {
        expect(delivery.spanContext().traceId).toBe(traceId);
        expect(delivery.attributes['myelin.handler']).toBe('trace.count');
      }
    }
  });

  it('puts the commit in the command’s span, and links a projection batch to the traces of its events', async () => {
    const counts = documents<{ n: number }>('trace-counts');
    const counted = projection(counts, { mode: 'async' }).on(Filed, async (e, docs) => {
      await docs.put(e.id, { n: e.n });
    });
    await using app = await createApplication()
      .include(postgresPersistence(test.database), postgresProjections([counted]))
      .use(tracing())
      .register(postgresEventSourcedRepository(Tickets, Ticket, { events: [Filed] }))
      .handle(fileTickets)
      .build();
    exporter.reset();
    const result = await app.mediator.execute(new File({ id: 'batch', count: 2 }));
    const spans = exporter.getFinishedSpans();
    const request = spans.find((span) => span.name === 'process File');
    const commit = spans.find((span) => span.name === 'commit');
    expect(commit?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
    expect(commit?.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'myelin.events': 2,
      'myelin.position': result.ok ? result.position : undefined,
    });

    await using daemon = new ProjectionDaemon(app, test.database, { pollMs: 100, leaseRetryMs: 100 }).start();
    await untilServing(test.database, [counted]);
    await daemon.stop(); // every batch span has ended once the daemon has stopped
    // The log holds the earlier test's events too, each of its own trace: the batch links once per trace.
    const batches = exporter.getFinishedSpans().filter((span) => span.name === 'project trace-counts');
    const linked = batches.flatMap((span) => span.links.map((link) => link.context.traceId));
    expect(linked.filter((traceId) => traceId === request?.spanContext().traceId)).toHaveLength(1);
    expect(new Set(linked).size).toBe(linked.length);
    expect(batches.map((span) => span.spanContext().traceId)).not.toContain(request?.spanContext().traceId);
    expect(batches[0]?.attributes).toMatchObject({
      'myelin.projection': 'trace-counts',
      'myelin.projection.version': 1,
    });
  });

  it('is carried by a scheduled message: the event written when due carries it, the command delivered continues it', async () => {
    const Remind = command('trace.Remind', unchecked<{ id: string }>()).returns<void>();
    const Plan = command('trace.Plan', unchecked<{ id: string }>()).returns<void>();
    const reminded: string[] = [];
    const clock = new TestClock();
    await using app = await createApplication()
      .include(postgresPersistence(test.database, { clock }))
      .use(tracing())
      .handle(
        handler(Plan, { schedule: Schedule }, async ({ id }, { schedule }) => {
          schedule.send(new Filed({ id, n: 1 }), { after: 60_000 }, { streamId: `planned-${id}` });
          schedule.send(new Remind({ id }), { after: 60_000 });
          return ok(undefined);
        }),
        handler(Remind, {}, async ({ id }) => {
          reminded.push(id);
          return ok(undefined);
        }),
      )
      .build();
    await using scheduler = new PostgresMessageScheduler(app, test.database, { leaseRetryMs: 50 }).start();
    await scheduler.active();
    exporter.reset();
    expect((await app.mediator.execute(new Plan({ id: 'p1' }))).ok).toBe(true);
    const planned = exporter.getFinishedSpans().find((span) => span.name === 'process trace.Plan');
    const traceId = planned?.spanContext().traceId as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    await clock.advance(60_000); // due: written and delivered in this turn, outside any span
    expect(reminded).toEqual(['p1']);
    const [written] = await new PostgresEventStore(test.database).readStream('planned-p1');
    expect(written?.metadata.traceparent?.split('-')[1]).toBe(traceId);
    const delivered = exporter.getFinishedSpans().find((span) => span.name === 'process trace.Remind');
    expect(delivered?.spanContext().traceId).toBe(traceId);
    expect(delivered?.parentSpanContext?.spanId).toBe(planned?.spanContext().spanId);
  });
});
