// Spans on NATS: a send span in the trace the event carries, and the consumer's span its child, across two
// connections, as two services would have.

import type { BusMessage } from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsMessageBus } from './natsMessageBus.ts';

const servers = process.env.NATS_URL ?? '127.0.0.1:4222';
const exporter = new InMemorySpanExporter();

describe('the NATS bus traced', () => {
  const id = crypto.randomUUID().replaceAll('-', '').slice(0, 10);
  const options = { stream: `TR_${id}`, subjectPrefix: `tr${id}.events`, deadLetterPrefix: `tr${id}.dead` };
  const buses: NatsMessageBus[] = [];
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
  });
  afterAll(async () => {
    for (const bus of buses) await bus.close();
    const admin = await connect({ servers });
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete(options.stream).catch(() => {});
    await jsm.streams.delete(`${options.stream}_DEAD`).catch(() => {});
    await admin.close();
    trace.disable();
    context.disable();
  });

  it('sends in the trace the event carries, and handles as the child of the send', async () => {
    const publisher = await NatsMessageBus.connect({ servers, service: 'orders', ...options });
    const consumer = await NatsMessageBus.connect({ servers, service: 'kitchen', ...options });
    buses.push(publisher, consumer);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const event = newEvent('order.ready.v1', { orderId: 'o-9' });
    const message: BusMessage = {
      data: event.data,
      metadata: { ...event.metadata, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    };
    const received: BusMessage[] = [];
    let resolve = () => {};
    const handled = new Promise<void>((done) => {
      resolve = done;
    });
    consumer.subscribe(
      'order.ready.v1',
      (m) => {
        received.push(m);
        resolve();
      },
      { name: 'tracing' },
    );
    await publisher.publish([message]);
    await handled;
    await consumer.close(); // the handler's span has ended once its message is acknowledged and the bus closed
    const subject = `tr${id}.events.order.ready.v1`;
    const send = exporter.getFinishedSpans().find((span) => span.name === `send ${subject}`);
    const process = exporter.getFinishedSpans().find((span) => span.name === `process ${subject}`);
    expect(send?.spanContext().traceId).toBe(traceId);
    expect(send?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(send?.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.destination.name': subject,
      'messaging.message.id': event.metadata.eventId,
    });
    expect(process?.parentSpanContext?.spanId).toBe(send?.spanContext().spanId);
    expect(process?.spanContext().traceId).toBe(traceId);
    expect(process?.attributes).toMatchObject({ 'messaging.operation.type': 'process' });
    // What the consuming service stores with its own events, if any: the send span, in the same trace.
    expect(received[0]?.metadata.traceparent).toBe(`00-${traceId}-${send?.spanContext().spanId}-01`);
  });
});
