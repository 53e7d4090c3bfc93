// Personal data across services: an event's personal fields travel sealed, as the publisher's log holds them; a
// consuming application opens them with the publisher's keys while the subject is remembered, and reads
// placeholders once they were forgotten, acknowledging as usual. The keys here are core's cipher over a store in
// memory, as a persistence adapter's reader would use them (with PostgreSQL, the same runs in e2e/).

import {
  type Application,
  consumeFromBus,
  createApplication,
  type DataKeyStore,
  type EventHandler,
  erased,
  event,
  eventHandler,
  localMasterKey,
  type MasterKey,
  newMasterKey,
  PersonalDataCipher,
  PersonalDataReader,
  type StoredDataKey,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsMessageBus, type NatsMessageBusOptions } from './natsMessageBus.ts';
import { eventually } from './testing/eventually.ts';

const servers = process.env.NATS_URL ?? '127.0.0.1:4222';

type Customer = { customerId: string; name: string; email: string; city: string };
const Registered = event('nats.customer.registered.v1', unchecked<Customer>(), {
  integration: true,
  personal: { subject: 'customerId', fields: ['name', 'email'] },
});

/** The publisher's key store: its `personal_keys` table, as far as these tests need one. */
function keyStore(): DataKeyStore & { forget(subject: string): void } {
  const keys = new Map<string, StoredDataKey>();
  const where = (ids: readonly string[], by: 'id' | 'subject') =>
    new Map([...keys.values()].filter((key) => ids.includes(key[by])).map((key) => [key[by], key]));
  return {
    async bySubject(subjects) {
      return where(subjects, 'subject');
    },
    async create(made) {
      for (const key of made) if (!keys.has(key.subject)) keys.set(key.subject, key);
      return where(
        made.map((key) => key.subject),
        'subject',
      );
    },
    async byId(ids) {
      return where(ids, 'id');
    },
    forget(subject) {
      keys.delete(subject);
    },
  };
}

describe('personal data on the NATS bus', () => {
  const masterKey = localMasterKey(newMasterKey());
  const streams: string[] = [];
  const closing: (() => Promise<unknown>)[] = [];
  let admin: NatsConnection;

  beforeAll(async () => {
    admin = await connect({ servers, timeout: 5000 });
  });
  afterAll(async () => {
    for (const close of closing.reverse()) await close();
    const jsm = await jetstreamManager(admin);
    for (const stream of streams) {
      await jsm.streams.delete(stream).catch(() => {});
      await jsm.streams.delete(`${stream}_DEAD`).catch(() => {});
    }
    await admin.close();
  });

  function isolated(): Omit<NatsMessageBusOptions, 'service'> {
    const id = crypto.randomUUID().replaceAll('-', '').slice(0, 10);
    streams.push(`PD_${id}`);
    return { stream: `PD_${id}`, subjectPrefix: `pd${id}.events`, deadLetterPrefix: `pd${id}.dead` };
  }

  async function open(service: string, options: Omit<NatsMessageBusOptions, 'service'>) {
    const bus = await NatsMessageBus.connect({
      servers,
      service,
      backoffMs: 50,
      onError: () => {},
      ...options,
    });
    closing.push(() => bus.close());
    return bus;
  }

  /** Publishes a customer's registration sealed, as the integration publisher sends it from the log. */
  async function register(bus: NatsMessageBus, store: DataKeyStore, customer: Customer): Promise<void> {
    const { events } = await new PersonalDataCipher(masterKey).seal(
      [newEvent(Registered.type, customer)],
      store,
    );
    await bus.publish(events);
  }

  /** A consuming application; its reader opens sealed data with `key` over `store`, when it has one. */
  async function consumer(
    handlers: EventHandler<typeof Registered>[],
    reader?: { readonly store: DataKeyStore; readonly key: MasterKey },
  ): Promise<Application> {
    const builder = createApplication().handle(...handlers);
    if (reader !== undefined) {
      const cipher = new PersonalDataCipher(reader.key);
      builder.singleton(PersonalDataReader, () => ({
        reveal: (events) => cipher.reveal(events, reader.store),
      }));
    }
    const app = await builder.build();
    closing.push(() => app.dispose());
    return app;
  }

  const customer = (id: string): Customer => ({
    customerId: `c-${id}`,
    name: `Ada ${id}`,
    email: `ada-${id}@example.com`,
    city: 'Turin',
  });

  it('sends the fields sealed, opens them for the consumer while the key exists, then gives placeholders and acknowledges', async () => {
    const options = isolated();
    const store = keyStore();
    const ada = customer(crypto.randomUUID().slice(0, 8));
    const seen: Omit<Customer, 'customerId'>[] = [];
    let forgotten = () => {};
    const afterForget = new Promise<void>((resolve) => {
      forgotten = resolve;
    });
    // The first delivery is held until the customer is forgotten, then fails: its redelivery comes after.
    const greet = eventHandler({ name: 'greet' }, Registered, async (e) => {
      seen.push({ name: e.name, email: e.email, city: e.city });
      if (seen.length === 1) {
        await afterForget;
        throw new Error('the mail server is down');
      }
    });
    const audited: Omit<Customer, 'customerId'>[] = [];
    const audit = eventHandler({ name: 'audit' }, Registered, (e) => {
      audited.push({ name: e.name, email: e.email, city: e.city });
    });
    const crm = await consumer([greet, audit], { store, key: masterKey });
    const errors: unknown[] = [];
    const bus = await open('crm', { ...options, application: crm, onError: (error) => errors.push(error) });
    consumeFromBus(crm, bus, [greet]);
    await register(await open('shop', options), store, ada);

    await eventually(
      () => seen.length === 1,
      () => seen,
    );
    expect(seen[0]).toEqual({ name: ada.name, email: ada.email, city: ada.city });
    // What the stream holds: nothing personal in clear.
    const jsm = await jetstreamManager(admin);
    const stored = await jsm.streams.getMessage(options.stream as string, { seq: 1 });
    const raw = new TextDecoder().decode(stored?.data);
    expect(raw).toContain('$personal');
    expect(raw).toContain(ada.city);
    expect(raw).not.toContain(ada.name);
    expect(raw).not.toContain(ada.email);

    store.forget(ada.customerId); // what PersonalData.forget does to the key
    forgotten();
    await eventually(
      () => seen.length === 2,
      () => seen,
    );
    expect(seen[1]).toEqual({ name: erased, email: erased, city: ada.city });
    // A subscription made after the erasure reads the same message from the stream: placeholders too.
    consumeFromBus(crm, bus, [audit]);
    await eventually(
      () => audited.length === 1,
      () => audited,
    );
    expect(audited[0]).toEqual({ name: erased, email: erased, city: ada.city });

    // Both acknowledged: nothing pending, nothing waiting for an ack, no dead letter, no error reported.
    await eventually(
      async () => {
        const consumers = await jsm.consumers.list(options.stream as string).next();
        return (
          consumers.length === 2 && consumers.every((c) => c.num_pending === 0 && c.num_ack_pending === 0)
        );
      },
      () => 'still pending',
    );
    expect((await jsm.streams.info(`${options.stream}_DEAD`)).state.messages).toBe(0);
    expect(errors).toEqual([]);
  });

  it('fails a sealed message loudly, never handing it sealed to a handler, where nothing can open it', async () => {
    const options = { ...isolated(), maxDeliveries: 2 };
    const store = keyStore();
    const handled: unknown[] = [];
    const note = eventHandler({ name: 'note' }, Registered, (e) => void handled.push(e));
    const errors: { service: string; error: Error }[] = [];
    const subscribe = async (service: string, app: Application, application?: Application) => {
      const onError = (error: unknown) => errors.push({ service, error: error as Error });
      const bus = await open(service, { ...options, onError, ...(application ? { application } : {}) });
      consumeFromBus(app, bus, [note]);
    };
    // A bus given no application; an application with no reader; a reader with another master key.
    const bare = await consumer([note]);
    await subscribe('bare', bare);
    await subscribe('readerless', bare, bare);
    const stranger = await consumer([note], { store, key: localMasterKey(newMasterKey(), 'stranger') });
    await subscribe('stranger', stranger, stranger);
    await register(await open('shop', options), store, customer(crypto.randomUUID().slice(0, 8)));

    const jsm = await jetstreamManager(admin);
    const dead = `${options.stream}_DEAD`;
    await eventually(
      async () => (await jsm.streams.info(dead)).state.messages === 3,
      () => errors.map(({ service, error }) => `${service}: ${error.message}`),
    );
    expect(handled).toEqual([]);
    for (const service of ['bare', 'readerless', 'stranger']) {
      const reported = errors.filter((e) => e.service === service);
      expect(reported).toHaveLength(2); // at each delivery
      expect(reported[0]?.error.message).toMatch(/master key/);
    }
    expect(errors.find((e) => e.service === 'bare')?.error.message).toContain(
      'NatsMessageBus.connect({ application })',
    );
    for (const seq of [1, 2, 3]) {
      const letter = await jsm.streams.getMessage(dead, { seq });
      expect(letter?.header.get('Myelin-Error')).toMatch(/master key/);
    }
  });
});
