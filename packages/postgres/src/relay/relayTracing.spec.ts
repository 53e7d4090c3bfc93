// A trace that crosses the log: a command's span, the events its commit stores with their trace context, and
// the relay's delivery of them later, with no span active, which continues the command's trace.
import {
  AggregateRoot,
  command,
  createApplication,
  event,
  eventHandler,
  handler,
  ok,
  type Repository,
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
import { PostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { EventRelay } from './eventRelay.ts';

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
        handler(File, { tickets: Tickets }, async ({ id, count }, { tickets }) => {
          const ticket = new Ticket(id);
          for (let n = 1; n <= count; n++) ticket.file(n);
          await tickets.add(ticket);
          return ok(undefined);
        }),
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
});
