import { type BusMessage, createApplication, Logger } from '@myelin/core';
import { messageBusContract } from '@myelin/core/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCloudEvent } from './cloudEvent.ts';
import { NatsMessageBus, type NatsMessageBusOptions } from './natsMessageBus.ts';
import { eventually } from './testing/eventually.ts';

const servers = process.env.NATS_URL ?? '127.0.0.1:4222';

/** Each test gets streams and subjects of its own, removed afterwards. */
function isolated(): Omit<NatsMessageBusOptions, 'service'> {
  const id = crypto.randomUUID().replaceAll('-', '').slice(0, 10);
  return {
    stream: `T_${id}`,
    subjectPrefix: `t${id}.events`,
    deadLetterPrefix: `t${id}.dead`,
    backoffMs: 50,
    // Small, since the server sets a dead-letter stream's limit aside from its storage as long as the stream lives.
    deadLetterMaxBytes: 1024 ** 2,
    onError: () => {},
  };
}

function message(type: string, data: unknown, eventId: string = crypto.randomUUID()): BusMessage {
  return {
    data,
    metadata: {
      eventId,
      type,
      version: 2,
      occurredAt: new Date('2026-11-22T10:00:00.000Z'),
      correlationId: 'corr-1',
      causationId: 'cmd-1',
      principal: 'alice',
    },
  };
}

describe('the NATS JetStream message bus', () => {
  let admin: NatsConnection;
  const streams: string[] = [];
  const buses: NatsMessageBus[] = [];

  beforeAll(async () => {
    try {
      admin = await connect({ servers, timeout: 5000 });
    } catch (error) {
      throw new Error(
        `NATS is not reachable at ${servers} (set NATS_URL to use another server): ${String(error)}`,
      );
    }
  });
  afterAll(async () => {
    for (const bus of buses) await bus.close();
    const jsm = await jetstreamManager(admin);
    for (const stream of streams) {
      await jsm.streams.delete(stream).catch(() => {});
      await jsm.streams.delete(`${stream}_DEAD`).catch(() => {});
    }
    await admin.close();
  });

  async function open(options: Omit<NatsMessageBusOptions, 'service'>, service = 'orders') {
    const bus = await NatsMessageBus.connect({ servers, service, ...options });
    buses.push(bus);
    if (options.stream !== undefined && !streams.includes(options.stream)) streams.push(options.stream);
    return bus;
  }

  describe('the message-bus contract', () => {
    // Two connections to one stream, as two processes of one service would have.
    const subject = {} as { bus: NatsMessageBus; other: NatsMessageBus; deliveryMs: number };
    beforeAll(async () => {
      const options = isolated();
      subject.bus = await open(options);
      subject.other = await open(options);
      subject.deliveryMs = 15_000;
    });
    for (const contract of messageBusContract()) it(contract.name, () => contract.run(subject));
  });

  it('publishes CloudEvents 1.0 with Nats-Msg-Id = event id on file storage, and the broker drops a republication', async () => {
    const options = isolated();
    const bus = await open(options);
    const sent = message('order.placed.v1', { orderId: 'o-1', total: 2598 }, 'event-1');
    await bus.publish([sent]);
    await bus.publish([sent]); // the relay delivers at least once

    const jsm = await jetstreamManager(admin);
    const info = await jsm.streams.info(options.stream as string);
    expect(info.state.messages).toBe(1);
    expect(info.config.storage).toBe('file');
    const stored = await jsm.streams.getMessage(options.stream as string, { seq: 1 });
    expect(stored?.subject).toBe(`${options.subjectPrefix}.order.placed.v1`);
    expect(stored?.header.get('Nats-Msg-Id')).toBe('event-1');
    expect(stored?.header.get('Content-Type')).toBe('application/cloudevents+json');
    expect(stored?.json()).toEqual({
      specversion: '1.0',
      id: 'event-1',
      source: 'myelin://orders',
      type: 'order.placed.v1',
      time: '2026-11-22T10:00:00.000Z',
      datacontenttype: 'application/json',
      data: { orderId: 'o-1', total: 2598 },
      dataversion: 2,
      correlationid: 'corr-1',
      causationid: 'cmd-1',
    });
    // Who acted is personal data: it travels only when the bus is told to include it.
    const telling = { ...isolated(), includePrincipal: true };
    await (await open(telling)).publish([message('order.placed.v1', { orderId: 'o-2' })]);
    const told = await jsm.streams.getMessage(telling.stream as string, { seq: 1 });
    expect(told?.json()).toMatchObject({ data: { orderId: 'o-2' }, principal: 'alice' });
  });

  it('rejects a batch when JetStream stores not every message of it, so that the relay keeps its place and sends it again', async () => {
    const options = isolated();
    const bus = await open(options);
    const jsm = await jetstreamManager(admin);
    const stream = options.stream as string;
    // Refused with an error reply: a message over the stream's size limit, between two that fit.
    const { config } = await jsm.streams.info(stream);
    await jsm.streams.update(stream, { ...config, max_msg_size: 1024 });
    const batch = [
      message('order.placed.v1', { n: 1 }),
      message('order.placed.v1', { note: 'x'.repeat(2000) }),
      message('order.placed.v1', { n: 3 }),
    ];
    await expect(bus.publish(batch)).rejects.toThrow(/refused.*maximum/i);
    expect((await jsm.streams.info(stream)).state.messages).toBe(2);
    // Answered 503: no stream takes the subject any more.
    await jsm.streams.delete(stream);
    await expect(bus.publish([message('order.placed.v1', { n: 4 })])).rejects.toThrow(/no JetStream stream/);
    // And once there is one again, the same batch goes through.
    const again = await open(options);
    await again.publish([message('order.placed.v1', { n: 4 }, 'four')]);
    expect((await jsm.streams.info(stream)).state.messages).toBe(1);
  });

  it('carries the trace context as the CloudEvents tracing extension, and a subscriber reads it back', async () => {
    const options = isolated();
    const bus = await open(options);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const sent = message('order.ready.v1', { orderId: 'o-3' });
    const traced = { ...sent, metadata: { ...sent.metadata, traceparent, tracestate: 'vendor=a' } };
    const received: BusMessage[] = [];
    bus.subscribe('order.ready.v1', (m) => void received.push(m), { name: 'tracing' });
    await bus.publish([traced, message('order.ready.v1', { orderId: 'o-4' })]);
    await eventually(
      () => received.length === 2,
      () => received,
    );
    const stored = await (await jetstreamManager(admin)).streams.getMessage(options.stream as string, {
      seq: 1,
    });
    expect(stored?.json()).toMatchObject({ traceparent, tracestate: 'vendor=a' });
    expect(received[0]?.metadata).toMatchObject({ traceparent, tracestate: 'vendor=a' });
    expect(received[1]?.metadata).not.toHaveProperty('traceparent'); // none written, none invented
  });

  it('shares a durable subscription between processes: each message is handled once, by one of them', async () => {
    const options = isolated();
    const [a, b] = [await open(options, 'kitchen'), await open(options, 'kitchen')];
    const handledBy = new Map<string, string[]>();
    const record = (who: string) => async (m: BusMessage) => {
      handledBy.set(m.metadata.eventId, [...(handledBy.get(m.metadata.eventId) ?? []), who]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    };
    a.subscribe('order.placed.v1', record('a'), { name: 'queue' });
    b.subscribe('order.placed.v1', record('b'), { name: 'queue' });
    const sent = Array.from({ length: 60 }, (_, i) => message('order.placed.v1', { i }));
    await a.publish(sent);
    await eventually(
      () => handledBy.size === 60,
      () => handledBy.size,
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // no late second delivery
    expect([...handledBy.values()].every((who) => who.length === 1)).toBe(true);
    const counts = [...handledBy.values()].flat().reduce<Record<string, number>>((c, who) => {
      c[who] = (c[who] ?? 0) + 1;
      return c;
    }, {});
    expect(Object.keys(counts).sort()).toEqual(['a', 'b']);
  });

  it('acknowledges only after the handler resolves: a failure is redelivered, then dead-lettered with its error', async () => {
    const options = { ...isolated(), maxDeliveries: 3 };
    const bus = await open(options);
    const attempts = new Map<string, number>();
    bus.subscribe(
      'order.placed.v1',
      (m) => {
        const data = m.data as { fail: 'never' | 'twice' | 'always' };
        const n = (attempts.get(m.metadata.eventId) ?? 0) + 1;
        attempts.set(m.metadata.eventId, n);
        if (data.fail === 'always' || (data.fail === 'twice' && n <= 2)) throw new Error(`oven ${n} cold`);
      },
      { name: 'cook' },
    );
    await bus.publish([
      message('order.placed.v1', { fail: 'twice' }, 'twice'),
      message('order.placed.v1', { fail: 'always' }, 'always'),
    ]);
    await eventually(
      () => attempts.get('twice') === 3 && attempts.get('always') === 3,
      () => [...attempts],
    );

    const [letter] = await deadLetters(options.stream as string, 1);
    expect(letter?.subject).toBe(`${options.deadLetterPrefix}.order.placed.v1`);
    expect(letter?.header.get('Myelin-Error')).toBe('oven 3 cold');
    expect(letter?.header.get('Myelin-Deliveries')).toBe('3');
    expect(letter?.header.get('Myelin-Stream-Sequence')).toBe(`${options.stream} 2`);
    expect(letter?.header.get('Content-Type')).toBe('application/cloudevents+json');
    // Its id is the message's own and the subscription: the server drops a second copy of it as a duplicate.
    expect(letter?.header.get('Nats-Msg-Id')).toBe('always:orders-cook');
    expect(letter?.json<{ id: string }>().id).toBe('always');
    // Terminated, as every server version understands: nothing is left pending, to come back at each ack wait.
    await settled(options.stream as string, 'orders-cook');
    expect(attempts.get('always')).toBe(3);
  });

  /**
   * Waits until a consumer has nothing pending, waiting or being redelivered: every message it was given was acked or
   * terminated. (A `term` the server ignored would leave the message awaiting its ack, and coming back.)
   */
  async function settled(stream: string, consumer: string) {
    const jsm = await jetstreamManager(admin);
    let seen: unknown;
    await eventually(
      async () => {
        const info = await jsm.consumers.info(stream, consumer);
        seen = {
          ackPending: info.num_ack_pending,
          pending: info.num_pending,
          redelivered: info.num_redelivered,
        };
        return info.num_ack_pending === 0 && info.num_pending === 0 && info.num_redelivered === 0;
      },
      () => seen,
    );
  }

  /** The dead letters of a stream, once there are `count` of them. */
  async function deadLetters(stream: string, count: number) {
    const jsm = await jetstreamManager(admin);
    const dead = `${stream}_DEAD`;
    let seen = 0;
    await eventually(
      async () => {
        seen = (await jsm.streams.info(dead)).state.messages;
        return seen >= count;
      },
      () => `${seen} dead letters`,
    );
    return Promise.all(
      Array.from({ length: count }, async (_, i) => jsm.streams.getMessage(dead, { seq: i + 1 })),
    );
  }

  it('dead-letters a message too big to be stored again with its headers as the headers alone, naming the original', async () => {
    const options = { ...isolated(), maxDeliveries: 1 };
    const bus = await open(options);
    let attempts = 0;
    bus.subscribe(
      'order.placed.v1',
      () => {
        attempts++;
        throw new Error('no oven that big');
      },
      { name: 'cook' },
    );
    // As big as the server takes with the publication's own headers (about 75 bytes), so that the dead letter's
    // (about 200 more) do not fit.
    const maxPayload = admin.info?.max_payload as number;
    const empty = JSON.stringify(
      toCloudEvent(message('order.placed.v1', { pizza: '' }, 'huge'), 'myelin://orders'),
    );
    const pizza = 'x'.repeat(maxPayload - 100 - empty.length);
    await bus.publish([message('order.placed.v1', { pizza }, 'huge')]);
    const [letter] = await deadLetters(options.stream as string, 1);
    expect(letter?.header.get('Myelin-Error')).toBe('no oven that big');
    expect(letter?.header.get('Myelin-Stream-Sequence')).toBe(`${options.stream} 1`);
    expect(Number(letter?.header.get('Myelin-Truncated'))).toBeGreaterThan(maxPayload - 1000);
    expect(letter?.data.length).toBe(0);
    expect(letter?.header.has('Content-Type')).toBe(false);
    await settled(options.stream as string, 'orders-cook');
    expect(attempts).toBe(1);
    // The original is still in the stream, where the dead letter says.
    const original = await (await jetstreamManager(admin)).streams.getMessage(options.stream as string, {
      seq: 1,
    });
    expect(original?.json<{ id: string }>().id).toBe('huge');
  });

  it('gives up a handler that hangs: its message is redelivered, then dead-lettered without running again', async () => {
    const errors: unknown[] = [];
    const options = {
      ...isolated(),
      maxDeliveries: 2,
      ackWaitMs: 300,
      handlerTimeoutMs: 200,
      onError: (error: unknown) => void errors.push(error),
    };
    const bus = await open(options);
    const calls: string[] = [];
    bus.subscribe(
      'order.placed.v1',
      (m) => {
        calls.push(m.metadata.eventId);
        // One that never answers, as a call stuck on a dead connection, or a process killed by the message.
        return m.metadata.eventId === 'stuck' ? new Promise<void>(() => {}) : undefined;
      },
      { name: 'cook' },
    );
    await bus.publish([message('order.placed.v1', {}, 'stuck'), message('order.placed.v1', {}, 'next')]);
    const [letter] = await deadLetters(options.stream as string, 1);
    expect(letter?.json<{ id: string }>().id).toBe('stuck');
    expect(letter?.header.get('Myelin-Error')).toBe(
      'delivered 3 times without an answer: the process handling it stopped or hung',
    );
    await settled(options.stream as string, 'orders-cook');
    // Handled twice, as many times as a handler is given, and the subscription went on past it (one at a time).
    expect(calls.filter((id) => id === 'stuck')).toHaveLength(2);
    expect(calls).toContain('next');
    expect(String(errors[0])).toContain('A handler has run for more than 200 ms');
  });

  it('dead-letters without running it a message whose processes died holding it, more than maxDeliveries times', async () => {
    const options = { ...isolated(), maxDeliveries: 2, ackWaitMs: 300 };
    const stream = options.stream as string;
    streams.push(stream);
    const calls: number[] = [];
    // Two processes in turn take the message and die on it (their connections cut, as a crash would), before
    // they acknowledge or refuse it: nothing in them could count the failure.
    for (const process of [1, 2]) {
      const cut = await connect({ servers });
      const dying = await NatsMessageBus.connect({ servers, service: 'orders', connection: cut, ...options });
      dying.subscribe(
        'order.placed.v1',
        () => {
          calls.push(process);
          return new Promise<void>(() => {});
        },
        { name: 'cook' },
      );
      if (process === 1) await dying.publish([message('order.placed.v1', {}, 'deadly')]);
      await eventually(
        () => calls.length === process,
        () => calls,
      );
      await cut.close();
    }
    const survivor = await open(options);
    let survivorCalls = 0;
    survivor.subscribe('order.placed.v1', () => void survivorCalls++, { name: 'cook' });
    const [letter] = await deadLetters(stream, 1);
    expect(letter?.json<{ id: string }>().id).toBe('deadly');
    expect(letter?.header.get('Myelin-Error')).toBe(
      'delivered 3 times without an answer: the process handling it stopped or hung',
    );
    expect(letter?.header.get('Myelin-Deliveries')).toBe('3');
    await settled(stream, 'orders-cook');
    expect(calls).toEqual([1, 2]);
    expect(survivorCalls).toBe(0); // not run a third time, to take this process down too
  });

  it('reports what a subscription survives to the application’s logger when given no logger of its own', async () => {
    const lines: { fields: { worker?: string; err?: unknown }; message: string | undefined }[] = [];
    const log = (fields: object, message?: string) => void lines.push({ fields, message });
    const logger: Logger = { debug: log, info: log, warn: log, error: log };
    await using app = await createApplication()
      .singleton(Logger, () => logger)
      .build();
    const { onError: _, ...options } = isolated();
    const bus = await open({ ...options, application: app, maxDeliveries: 1 });
    bus.subscribe('order.placed.v1', () => {}, { name: 'cook' });
    // Sealed personal data, and no reader of it in this application: reported, then dead-lettered.
    const sealed = { $personal: { key: 'k-1', fields: ['name'], sealed: 'AAAA' } };
    await bus.publish([message('order.placed.v1', sealed, 'sealed')]);
    await eventually(
      () => lines.length > 0,
      () => lines,
    );
    expect(lines[0]?.fields.worker).toBe('nats:orders-cook');
    expect(String(lines[0]?.fields.err)).toContain('nothing here can open it');
  });

  it('dead-letters, with the error its handler failed with, a message whose dead letter could not be stored at first', async () => {
    const errors: unknown[] = [];
    // A backoff long enough for the test to bring the dead-letter stream back before the next delivery.
    const options = {
      ...isolated(),
      maxDeliveries: 1,
      backoffMs: 1000,
      onError: (error: unknown) => void errors.push(error),
    };
    const stream = options.stream as string;
    const bus = await open(options);
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete(`${stream}_DEAD`); // gone: nothing stores dead letters
    let calls = 0;
    bus.subscribe(
      'order.placed.v1',
      () => {
        calls++;
        throw new Error('oven on fire');
      },
      { name: 'cook' },
    );
    await bus.publish([message('order.placed.v1', {}, 'burnt')]);
    await eventually(
      () => errors.length > 0,
      () => errors.map(String),
    );
    await open(options); // connecting again makes the dead-letter stream again
    const [letter] = await deadLetters(stream, 1);
    expect(letter?.json<{ id: string }>().id).toBe('burnt');
    expect(letter?.header.get('Myelin-Error')).toBe('oven on fire');
    expect(letter?.header.get('Myelin-Deliveries')).toBe('2');
    await settled(stream, 'orders-cook');
    expect(calls).toBe(1);
  });

  it('stops the delivery of a message no dead letter can be stored for, after a few attempts, and says so', async () => {
    const errors: unknown[] = [];
    const options = {
      ...isolated(),
      maxDeliveries: 1,
      onError: (error: unknown) => void errors.push(error),
    };
    const stream = options.stream as string;
    const bus = await open(options);
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete(`${stream}_DEAD`);
    let calls = 0;
    bus.subscribe(
      'order.placed.v1',
      () => {
        calls++;
        throw new Error('no oven');
      },
      { name: 'cook' },
    );
    await bus.publish([message('order.placed.v1', {}, 'lost')]);
    const givenUp = () => errors.map(String).filter((e) => e.includes('could not be dead-lettered'));
    await eventually(
      () => givenUp().length > 0,
      () => errors.map(String),
    );
    expect(givenUp()[0]).toContain(
      'could not be dead-lettered after 5 attempts: its delivery is stopped; it stays in the stream until it expires. It failed with: no oven',
    );
    await settled(stream, 'orders-cook'); // not redelivered for ever: the subscription is free
    expect(calls).toBe(1);
    expect(givenUp()).toHaveLength(1);
    expect((await jsm.streams.getMessage(stream, { seq: 1 }))?.json<{ id: string }>().id).toBe('lost');
    // And the server's own bound, should the bus not manage it: a little past the bus's.
    expect((await jsm.consumers.info(stream, 'orders-cook')).config.max_deliver).toBe(1 + 5 + 2);
  });

  it('closes while a handler hangs, once it is given up, and the message goes to the next process', async () => {
    const errors: unknown[] = [];
    // With a place free beside the hung handler, the subscription is not waiting for one when it is stopped, but
    // for the handlers still running.
    const options = {
      ...isolated(),
      ackWaitMs: 300,
      handlerTimeoutMs: 200,
      concurrency: 2,
      onError: (error: unknown) => void errors.push(error),
    };
    const bus = await open(options);
    let hung = 0;
    bus.subscribe(
      'order.placed.v1',
      () => {
        hung++;
        return new Promise<void>(() => {});
      },
      { name: 'cook' },
    );
    await bus.publish([message('order.placed.v1', {}, 'slow')]);
    await eventually(
      () => hung === 1,
      () => hung,
    );
    await bus.close(); // would wait for ever on the hung handler
    expect(String(errors[0])).toContain('A handler has run for more than 200 ms');
    const next = await open(options);
    const handled: string[] = [];
    next.subscribe('order.placed.v1', (m) => void handled.push(m.metadata.eventId), { name: 'cook' });
    await eventually(
      () => handled.length === 1,
      () => handled,
    );
    expect(handled).toEqual(['slow']);
    await settled(options.stream as string, 'orders-cook');
  });

  it('handles once, and never dead-letters, a message delivered again while it waited behind a slow one', async () => {
    const options = { ...isolated(), maxDeliveries: 2, ackWaitMs: 300 };
    const stream = options.stream as string;
    const bus = await open(options);
    const jsm = await jetstreamManager(admin);
    const calls: string[] = [];
    bus.subscribe(
      'order.placed.v1',
      async (m) => {
        calls.push(m.metadata.eventId);
        if (m.metadata.eventId !== 'slow') return;
        // Still working (the bus says so) while the message pulled with it waits, past its ack wait, and JetStream
        // sends it again and again: six deliveries in all, so 'waiting' three times or more, more than maxDeliveries.
        await eventually(
          async () => (await jsm.consumers.info(stream, 'orders-cook')).delivered.consumer_seq >= 6,
          'the waiting message to be delivered again',
        );
      },
      { name: 'cook' },
    );
    await bus.publish([message('order.placed.v1', {}, 'slow'), message('order.placed.v1', {}, 'waiting')]);
    await eventually(
      () => calls.length === 2,
      () => calls,
    );
    await settled(stream, 'orders-cook');
    expect(calls).toEqual(['slow', 'waiting']);
    expect((await jsm.streams.info(`${stream}_DEAD`)).state.messages).toBe(0);
  });

  it('bounds the dead-letter stream by deadLetterMaxBytes, the oldest going first, and says when the server cannot set that much aside', async () => {
    const { deadLetterMaxBytes: _small, ...options } = isolated();
    const dead = `${options.stream}_DEAD`;
    await open(options);
    const jsm = await jetstreamManager(admin);
    expect((await jsm.streams.info(dead)).config).toMatchObject({
      max_bytes: 256 * 1024 ** 2,
      discard: 'old',
    });
    await open({ ...options, deadLetterMaxBytes: 64 * 1024 });
    expect((await jsm.streams.info(dead)).config).toMatchObject({ max_bytes: 64 * 1024, discard: 'old' });
    // Far more than the server has: it refuses to set it aside.
    const tooMuch = { ...isolated(), deadLetterMaxBytes: 2 ** 52 };
    streams.push(tooMuch.stream as string);
    await expect(NatsMessageBus.connect({ servers, service: 'orders', ...tooMuch })).rejects.toThrow(
      /refused the dead-letter stream .*deadLetterMaxBytes \(4503599627370496 bytes\).*give a smaller deadLetterMaxBytes/,
    );
  });

  it('refuses limits that are not positive integers, naming the option', async () => {
    for (const name of [
      'maxDeliveries',
      'ackWaitMs',
      'handlerTimeoutMs',
      'deadLetterMaxBytes',
      'concurrency',
    ]) {
      await expect(NatsMessageBus.connect({ servers, service: 'orders', [name]: 0 })).rejects.toThrow(
        `${name} must be a positive integer, not 0`,
      );
    }
  });

  it('keeps apart subscriptions whose names differ only in characters durable names cannot hold, and closes at once', async () => {
    const options = isolated();
    const bus = await open(options);
    const got = { dotted: 0, underscored: 0 };
    bus.subscribe('order.placed.v1', () => void got.dotted++, { name: 'a.b' });
    bus.subscribe('order.placed.v1', () => void got.underscored++, { name: 'a_b' });
    await bus.publish(Array.from({ length: 10 }, (_, i) => message('order.placed.v1', { i })));
    await eventually(
      () => got.dotted === 10 && got.underscored === 10,
      () => got,
    );
    // Stopped while its consumer is still being set up: close() must not wait for it forever.
    bus.subscribe('order.cancelled.v1', () => {}, { name: 'late' });
    const started = Date.now();
    await bus.close();
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('goes on when its stream is deleted, making it and its consumer again', async () => {
    const options = isolated();
    const jsm = await jetstreamManager(admin);
    const bus = await open(options);
    const handled: string[] = [];
    bus.subscribe('order.placed.v1', (m) => void handled.push(m.metadata.eventId), { name: 'cook' });
    await bus.publish([message('order.placed.v1', {}, 'before')]);
    await eventually(
      () => handled.includes('before'),
      () => handled,
    );

    // Deleted while a process of the service connects (a deploy, say) and publishes: the stream is made again by
    // whichever comes first, the new process or the subscription.
    await jsm.streams.delete(options.stream as string);
    const other = await open(options);
    await other.publish([message('order.placed.v1', {}, 'after a new stream')]);
    await eventually(
      () => handled.includes('after a new stream'),
      () => handled,
    );

    // Deleted with no one to make it again: the subscription does, and takes what is published next.
    await jsm.streams.delete(options.stream as string);
    await eventually(
      async () => (await jsm.streams.info(options.stream as string).catch(() => undefined)) !== undefined,
      'the stream made again by the subscription',
    );
    await bus.publish([message('order.placed.v1', {}, 'after the subscription made it')]);
    await eventually(
      () => handled.includes('after the subscription made it'),
      () => handled,
    );
    expect(handled).toEqual(['before', 'after a new stream', 'after the subscription made it']);
  });

  it('redelivers to another process what a process took but never acknowledged (it died)', async () => {
    const options = { ...isolated(), ackWaitMs: 1000 };
    // The dying process's bus runs on a connection the test can cut, as a crash would.
    const cut = await connect({ servers });
    const dying = await NatsMessageBus.connect({ servers, service: 'mailer', connection: cut, ...options });
    streams.push(options.stream as string);
    let taken = 0;
    dying.subscribe(
      'order.placed.v1',
      () => {
        taken++;
        return new Promise<void>(() => {}); // hangs: the process dies before it acknowledges
      },
      { name: 'send' },
    );
    await dying.publish([message('order.placed.v1', { to: 'mario' }, 'mail-1')]);
    await eventually(
      () => taken === 1,
      () => taken,
    );
    await cut.close(); // gone, without an ack

    const survivor = await open(options, 'mailer');
    const handled: string[] = [];
    survivor.subscribe('order.placed.v1', (m) => void handled.push(m.metadata.eventId), { name: 'send' });
    await eventually(
      () => handled.length === 1,
      () => handled,
    );
    expect(handled).toEqual(['mail-1']);
  });

  it('handles up to `concurrency` messages at once, each once, and publishes a batch in order', async () => {
    const options = isolated();
    const publisher = await open(options);
    const ids = Array.from({ length: 40 }, (_, i) => `m-${i}`);
    await publisher.publish(ids.map((id) => message('order.placed.v1', {}, id)));
    const stored: string[] = [];
    const ordered = await open(options, 'auditor');
    ordered.subscribe('order.placed.v1', (m) => void stored.push(m.metadata.eventId), { name: 'audit' });
    await eventually(
      () => stored.length === 40,
      () => stored,
    );
    expect(stored).toEqual(ids); // concurrency 1 (the default): the order they were published in

    const consumer = await open({ ...options, concurrency: 8 }, 'mailer');
    const handled: string[] = [];
    let running = 0;
    let most = 0;
    consumer.subscribe(
      'order.placed.v1',
      async (m) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running--;
        handled.push(m.metadata.eventId);
      },
      { name: 'send' },
    );
    await eventually(
      () => handled.length === 40,
      () => handled,
    );
    expect(most).toBe(8);
    expect([...handled].sort()).toEqual([...ids].sort());
    await expect(NatsMessageBus.connect({ servers, service: 'x', concurrency: 0 })).rejects.toThrow(
      /concurrency must be a positive integer/,
    );
  });
});
