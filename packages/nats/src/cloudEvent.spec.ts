// What another service puts in a CloudEvent becomes a handler's metadata: it is held to what Myelin writes.
import type { BusMessage } from '@myelin/core';
import { describe, expect, it } from 'vitest';
import { fromCloudEvent, toCloudEvent } from './cloudEvent.ts';

const message: BusMessage = {
  data: { orderId: 'o-1' },
  metadata: {
    eventId: 'e-1',
    type: 'order.placed.v1',
    version: 2,
    occurredAt: new Date('2026-12-05T10:00:00.000Z'),
    correlationId: 'corr-1',
    causationId: 'cmd-1',
    principal: 'alice',
  },
};
const event = toCloudEvent(message, 'myelin://orders', { includePrincipal: true });

describe('a CloudEvent read back', () => {
  it('gives the message it was made from', () => {
    expect(fromCloudEvent(JSON.parse(JSON.stringify(event)))).toEqual(message);
  });

  it('refuses ids, a type or a principal that are not short strings without control characters, naming them', () => {
    for (const [name, value, shown] of [
      ['correlationid', 42, '42'],
      ['causationid', { $gt: '' }, '{"$gt":""}'],
      ['principal', ['admin'], '["admin"]'],
      ['principal', '', "''"],
      ['principal', 'alice\nroles: admin', "'alice\nroles: admin'"],
      ['id', 'e\u0000-1', "'e\u0000-1'"],
      ['type', 'x'.repeat(201), `'${'x'.repeat(59)}…`],
      ['principal', 'alice\uD800', "'alice\uD800'"],
    ] as const) {
      expect(() => fromCloudEvent({ ...event, [name]: value })).toThrow(
        `the CloudEvent's ${name} must be a well-formed string of 1 to 200 characters without control characters, not ${shown}`,
      );
    }
  });

  it('takes the longest ids and a principal with any printable character, and no principal when it names none', () => {
    const long = { ...event, correlationid: 'c'.repeat(200), principal: 'ana.lópez@example.com|idp-7' };
    expect(fromCloudEvent(long).metadata).toMatchObject({
      correlationId: 'c'.repeat(200),
      principal: 'ana.lópez@example.com|idp-7',
    });
    const { principal: _, correlationid: __, ...anonymous } = event;
    expect(fromCloudEvent(anonymous).metadata).toMatchObject({ principal: undefined, correlationId: 'e-1' });
  });

  it('keeps a well-formed trace context, and drops a malformed one without refusing the event', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(fromCloudEvent({ ...event, traceparent, tracestate: 'vendor=abc' }).metadata).toMatchObject({
      traceparent,
      tracestate: 'vendor=abc',
    });
    for (const malformed of [
      { traceparent: 'not a trace', tracestate: 'vendor=abc' },
      { traceparent: { id: 1 }, tracestate: 'vendor=abc' },
      { tracestate: 'vendor=abc' },
    ]) {
      const metadata = fromCloudEvent({ ...event, ...malformed }).metadata;
      expect([metadata.eventId, metadata.traceparent, metadata.tracestate]).toEqual([
        'e-1',
        undefined,
        undefined,
      ]);
    }
    for (const tracestate of ['v=1\nx', 'v='.padEnd(513, 'x'), 42]) {
      const metadata = fromCloudEvent({ ...event, traceparent, tracestate }).metadata;
      expect([metadata.traceparent, metadata.tracestate]).toEqual([traceparent, undefined]);
    }
  });

  it('refuses a dataversion that is not a positive integer, and what is not an object', () => {
    for (const [version, shown] of [
      [0, '0'],
      [1.5, '1.5'],
      ['2', "'2'"],
      [-1, '-1'],
    ] as const) {
      expect(() => fromCloudEvent({ ...event, dataversion: version })).toThrow(
        `the CloudEvent's dataversion must be a positive integer, not ${shown}`,
      );
    }
    expect(() => fromCloudEvent([event])).toThrow('not a JSON object');
    expect(() => fromCloudEvent({ ...event, time: 'soon' })).toThrow(
      "the CloudEvent's time 'soon' is not a date",
    );
  });
});
