import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApplication } from '../application/application.ts';
import { consumeFromBus } from '../application/busConsumers.ts';
import { logging } from '../behaviors/logging.ts';
import { token } from '../dependencyInjection/token.ts';
import { AggregateRoot } from '../domain/aggregateRoot.ts';
import { InMemoryDatabase } from '../inMemory/inMemoryDatabase.ts';
import { InMemoryMessageBus } from '../inMemory/inMemoryMessageBus.ts';
import { InMemoryMessageScheduler } from '../inMemory/inMemoryMessageScheduler.ts';
import { inMemoryPersistence } from '../inMemory/inMemoryPersistence.ts';
import { inMemoryEventSourcedRepository } from '../inMemory/inMemoryRepositories.ts';
import { eventHandler, handler } from '../mediation/handler.ts';
import { command, event, unchecked } from '../messages/message.ts';
import type { Repository } from '../persistence/repository.ts';
import { internalServerError, ok } from '../results/operationResult.ts';
import { TestClock } from '../scheduling/clock.ts';
import { Schedule } from '../scheduling/schedule.ts';
import { newEvent } from '../testing/events.ts';
import { activeTraceContext, contextOf } from './traceContext.ts';
import { tracing } from './tracing.ts';

const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});
afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

const Opened = event('tab.opened.v1', unchecked<{ id: string }>());
class Tab extends AggregateRoot<{ open: boolean }, InstanceType<typeof Opened>> {
  constructor(id: string) {
    super(id, { open: false });
  }
  open(): void {
    this.raise(new Opened({ id: this.id }));
  }
  protected override apply(): { open: boolean } {
    return { open: true };
  }
}
const Tabs = token<Repository<Tab>>('Tabs');
const Open = command('Open', unchecked<{ id: string }>()).returns<string>();
const Fail = command('Fail', unchecked<{ id: string }>()).returns<void>();
const seen: string[] = [];

async function app(database = new InMemoryDatabase()) {
  return createApplication()
    .include(inMemoryPersistence(database))
    .use(tracing())
    .register(inMemoryEventSourcedRepository(Tabs, Tab, { events: [Opened] }))
    .handle(
      handler(Open, { tabs: Tabs }, async ({ id }, { tabs }) => {
        const tab = new Tab(id);
        tab.open();
        await tabs.add(tab);
        return ok(id);
      }),
      handler(Fail, async () => internalServerError('Something broke')),
      eventHandler({ name: 'tabs.count' }, Opened, async (e) => {
        seen.push(activeTraceContext().traceparent ?? `none for ${e.id}`);
      }),
    )
    .build();
}

describe('tracing', () => {
  it('is carried by a scheduled message: the event written when due carries it, the command delivered continues it', async () => {
    const Plan = command('tab.Plan', unchecked<{ id: string }>()).returns<void>();
    const Remind = command('tab.Remind', unchecked<{ id: string }>()).returns<void>();
    const database = new InMemoryDatabase();
    const clock = new TestClock();
    await using application = await createApplication()
      .include(inMemoryPersistence(database, { clock }))
      .use(tracing())
      .handle(
        handler(Plan, { schedule: Schedule }, async ({ id }, { schedule }) => {
          schedule.send(new Opened({ id }), { after: 60_000 }, { streamId: `planned-${id}` });
          schedule.send(new Remind({ id }), { after: 60_000 });
          return ok(undefined);
        }),
        handler(Remind, async () => ok(undefined)),
      )
      .build();
    await using _scheduler = new InMemoryMessageScheduler(application).start();
    await application.mediator.execute(new Plan({ id: 'p' }));
    const planned = exporter.getFinishedSpans().find((span) => span.name === 'process tab.Plan');
    const traceId = planned?.spanContext().traceId as string;
    exporter.reset();
    await clock.advance(60_000); // due: written and delivered outside any span
    expect(database.stream('planned-p')?.[0]?.metadata.traceparent?.split('-')[1]).toBe(traceId);
    const delivered = exporter.getFinishedSpans().find((span) => span.name === 'process tab.Remind');
    expect(delivered?.spanContext().traceId).toBe(traceId);
    expect(delivered?.parentSpanContext?.spanId).toBe(planned?.spanContext().spanId);
  });

  it('gives a request and the handlers of the events it raised one trace, after the messaging conventions', async () => {
    await using application = await app();
    const result = await application.mediator.execute(new Open({ id: 'a' }), { correlationId: 'c-1' });
    expect(result.ok).toBe(true);
    const spans = exporter.getFinishedSpans();
    const request = spans.find((span) => span.name === 'process Open');
    const delivery = spans.find((span) => span.name === 'process tab.opened.v1');
    expect(request?.attributes).toMatchObject({
      'messaging.system': 'myelin',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'Open',
      'messaging.message.conversation_id': 'c-1',
      'myelin.message.kind': 'command',
      'myelin.result.status': 200,
    });
    expect(delivery?.attributes).toMatchObject({
      'myelin.handler': 'tabs.count',
      'myelin.message.kind': 'event',
    });
    expect(delivery?.spanContext().traceId).toBe(request?.spanContext().traceId);
    expect(delivery?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
  });

  it('stores the trace with the events, and a later delivery from the log continues it', async () => {
    const database = new InMemoryDatabase();
    await using application = await app(database);
    await application.mediator.execute(new Open({ id: 'b' }));
    const request = exporter.getFinishedSpans().find((span) => span.name === 'process Open');
    const stored = database.log.at(-1);
    const traceId = request?.spanContext().traceId as string;
    expect(stored?.metadata.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    // As a relay delivers it, later and with no span active: the handler's span joins the stored trace.
    exporter.reset();
    await context.with(context.active(), () =>
      application.mediator.publish(new Opened({ id: 'b' }), {
        handler: 'tabs.count',
        traceparent: stored?.metadata.traceparent,
      }),
    );
    const delivery = exporter.getFinishedSpans().find((span) => span.name === 'process tab.opened.v1');
    expect(delivery?.spanContext().traceId).toBe(traceId);
    expect(seen.at(-1)).toContain(traceId); // and the handler runs inside that span
  });

  it('continues, in the consuming service, the trace an integration event carried on the bus', async () => {
    const Paid = event('bill.paid.v1', unchecked<{ id: string }>(), { integration: true });
    const bus = new InMemoryMessageBus();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const closeBill = eventHandler({ name: 'bills.close', idempotent: true }, Paid, async () => {});
    await using consumer = await createApplication().use(tracing()).handle(closeBill).build();
    const stop = consumeFromBus(consumer, bus, [closeBill]);
    try {
      await bus.publish([
        {
          data: { id: 'b-1' },
          metadata: {
            ...newEvent('bill.paid.v1', { id: 'b-1' }).metadata,
            traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
          },
        },
      ]);
      const delivery = exporter.getFinishedSpans().find((span) => span.name === 'process bill.paid.v1');
      expect(delivery?.spanContext().traceId).toBe(traceId);
      expect(delivery?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    } finally {
      stop();
    }
  });

  it('names the span in the log lines of the logging behavior, which it holds', async () => {
    const lines: Record<string, unknown>[] = [];
    const record = (fields: object) => void lines.push(fields as Record<string, unknown>);
    await using application = await createApplication()
      .use(tracing(), logging({ debug: record, info: record, warn: record, error: record }))
      .handle(handler(Open, async ({ id }) => ok(id)))
      .build();
    await application.mediator.execute(new Open({ id: 'c' }));
    const span = exporter.getFinishedSpans().find((s) => s.name === 'process Open');
    expect(lines).toEqual([
      expect.objectContaining({
        messageType: 'Open',
        trace_id: span?.spanContext().traceId,
        span_id: span?.spanContext().spanId,
      }),
    ]);
  });

  it('marks a request that failed with a 5xx as an error, with its status', async () => {
    await using application = await app();
    await application.mediator.execute(new Fail({ id: 'x' }));
    const span = exporter.getFinishedSpans().find((s) => s.name === 'process Fail');
    expect(span?.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(span?.attributes['myelin.result.status']).toBe(500);
  });

  it('reads a stored trace context back, and ignores one that is malformed', () => {
    const parent = contextOf({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(trace.getSpanContext(parent)).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      isRemote: true,
    });
    const root = context.active();
    expect(contextOf({ traceparent: '00-zz-b7ad6b7169203331-01' }, root)).toBe(root);
    expect(contextOf({ traceparent: `00-${'0'.repeat(32)}-b7ad6b7169203331-01` }, root)).toBe(root);
  });
});
