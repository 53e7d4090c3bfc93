import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { createApplication } from '../application/application.ts';
import { handler } from '../mediation/handler.ts';
import { command, unchecked } from '../messages/message.ts';
import { ok } from '../results/operationResult.ts';
import { tracing, tracingEnabled } from './tracing.ts';

afterAll(() => {
  trace.disable();
  context.disable();
});

const Greet = command('Greet', unchecked<{ name: string }>()).returns<string>();

describe('tracing before an SDK is registered', () => {
  it('answers requests without spans, then traces them once an SDK registers, after the application was built', async () => {
    expect(tracingEnabled()).toBe(false);
    await using app = await createApplication()
      .use(tracing())
      .handle(handler(Greet, async ({ name }) => ok(`hello ${name}`)))
      .build();
    expect(await app.mediator.execute(new Greet({ name: 'Ada' }))).toMatchObject({
      ok: true,
      data: 'hello Ada',
    });

    const exporter = new InMemorySpanExporter();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    expect(await app.mediator.execute(new Greet({ name: 'Grace' }))).toMatchObject({ ok: true });
    expect(
      exporter.getFinishedSpans().map((span) => [span.name, span.attributes['myelin.result.status']]),
    ).toEqual([['process Greet', 200]]);
  });
});
