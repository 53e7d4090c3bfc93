// Personal data across services: the publisher's log holds an event's personal fields sealed, and so does the
// stream; a consuming service opens them with the publisher's keys (here: the same schema and master key) while
// the subject is remembered, and reads placeholders once they were forgotten, acknowledging as usual.

import {
  AggregateRoot,
  type Application,
  command,
  consumeFromBus,
  createApplication,
  type EventHandler,
  erased,
  event,
  eventHandler,
  handler,
  localMasterKey,
  newMasterKey,
  ok,
  PersonalData,
  type Repository,
  token,
  unchecked,
} from '@myelin/core';
import { NatsMessageBus } from '@myelin/nats';
import {
  type Database,
  IntegrationPublisher,
  postgresEventSourcedRepository,
  postgresPersistence,
} from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const servers = process.env.NATS_URL ?? '127.0.0.1:4222';
const postgresUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

type Customer = { customerId: string; name: string; email: string; city: string };
const Registered = event('nats.customer.registered.v1', unchecked<Customer>(), {
  integration: true,
  personal: { subject: 'customerId', fields: ['name', 'email'] },
});
type RegisteredEvent = InstanceType<typeof Registered>;

class Account extends AggregateRoot<{ city: string }, RegisteredEvent> {
  constructor(id: string) {
    super(id, { city: '' });
  }
  register(name: string, email: string, city: string): void {
    this.raise(new Registered({ customerId: this.id, name, email, city }));
  }
  protected override apply(_state: { city: string }, e: RegisteredEvent) {
    return { city: e.city };
  }
}
const Accounts = token<Repository<Account>>('Accounts');
const Register = command(
  'nats.customer.register',
  unchecked<{ id: string; name: string; email: string; city: string }>(),
).returns<void>();
const Forget = command('nats.customer.forget', unchecked<{ id: string }>()).returns<void>();

async function eventually(
  check: () => boolean | Promise<boolean>,
  what: () => unknown,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached in ${ms} ms: ${JSON.stringify(what())}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('personal data on NATS, from a PostgreSQL outbox to another service', () => {
  const id = crypto.randomUUID().replaceAll('-', '').slice(0, 10);
  const nats = {
    servers,
    stream: `PD_${id}`,
    subjectPrefix: `pd${id}.events`,
    deadLetterPrefix: `pd${id}.dead`,
  };
  const masterKey = localMasterKey(newMasterKey());
  const ada = { id: `c-${id}`, name: `Ada ${id}`, email: `ada-${id}@example.com`, city: 'Turin' };
  const closing: (() => Promise<unknown> | unknown)[] = [];
  let admin: NatsConnection;
  let database: Database;
  let shop: Application;

  beforeAll(async () => {
    admin = await connect({ servers, timeout: 5000 });
    database = postgresDatabase({ connectionString: postgresUrl, schema: `test_${id}` });
    // The publishing service: customers register through it, and it forgets them on request.
    shop = await createApplication()
      .include(postgresPersistence(database, { personalData: { masterKey } }))
      .register(postgresEventSourcedRepository(Accounts, Account, { events: [Registered] }))
      .handle(
        handler(Register, { accounts: Accounts }, async (c, { accounts }) => {
          const account = new Account(c.id);
          account.register(c.name, c.email, c.city);
          await accounts.add(account);
          return ok(undefined);
        }),
        handler(Forget, { personal: PersonalData }, async (c, { personal }) => {
          await personal.forget(c.id, { requestedBy: 'dpo', reason: 'ticket 19' });
          return ok(undefined);
        }),
      )
      .build();
    closing.push(() => shop.dispose());
    const bus = await NatsMessageBus.connect({ ...nats, service: 'shop' });
    closing.push(() => bus.close());
    const publisher = new IntegrationPublisher(shop, database, bus, { events: [Registered], pollMs: 100 });
    publisher.start();
    closing.push(() => publisher.stop());
    await shop.mediator.execute(new Register(ada));
  });

  afterAll(async () => {
    for (const close of closing.reverse()) await close();
    const jsm = await jetstreamManager(admin);
    await jsm.streams.delete(nats.stream).catch(() => {});
    await jsm.streams.delete(`${nats.stream}_DEAD`).catch(() => {});
    await admin.close();
    await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
    await database.close();
  });

  /** A consuming service's application: on the publisher's schema, with its master key when given one. */
  async function consumer(
    handlers: EventHandler<typeof Registered>[],
    withKey: boolean,
  ): Promise<Application> {
    const app = await createApplication()
      .include(postgresPersistence(database, withKey ? { personalData: { masterKey } } : {}))
      .handle(...handlers)
      .build();
    closing.push(() => app.dispose());
    return app;
  }

  async function connectBus(service: string, options: Partial<Parameters<typeof NatsMessageBus.connect>[0]>) {
    const bus = await NatsMessageBus.connect({
      ...nats,
      service,
      backoffMs: 50,
      onError: () => {},
      ...options,
    });
    closing.push(() => bus.close());
    return bus;
  }

  it('sends the fields sealed, opens them for the consumer while the key exists, then gives placeholders and acknowledges', async () => {
    const seen: Omit<Customer, 'customerId'>[] = [];
    let forgotten = () => {};
    const afterForget = new Promise<void>((resolve) => {
      forgotten = resolve;
    });
    // The first delivery is held until the customer is forgotten, then fails: its redelivery comes after.
    const greet = eventHandler({ name: 'greet', idempotent: true }, Registered, async (e) => {
      seen.push({ name: e.name, email: e.email, city: e.city });
      if (seen.length === 1) {
        await afterForget;
        throw new Error('the mail server is down');
      }
    });
    const audited: Omit<Customer, 'customerId'>[] = [];
    const audit = eventHandler({ name: 'audit', idempotent: true }, Registered, (e) => {
      audited.push({ name: e.name, email: e.email, city: e.city });
    });
    const crm = await consumer([greet, audit], true);
    const errors: unknown[] = [];
    const bus = await connectBus('crm', { application: crm, onError: (error) => errors.push(error) });
    consumeFromBus(crm, bus, [greet]);

    await eventually(
      () => seen.length === 1,
      () => seen,
    );
    expect(seen[0]).toEqual({ name: ada.name, email: ada.email, city: ada.city });
    // What the stream holds: nothing personal in clear.
    const jsm = await jetstreamManager(admin);
    const stored = await jsm.streams.getMessage(nats.stream, { seq: 1 });
    const raw = new TextDecoder().decode(stored?.data);
    expect(raw).toContain('$personal');
    expect(raw).toContain(ada.city);
    expect(raw).not.toContain(ada.name);
    expect(raw).not.toContain(ada.email);

    await shop.mediator.execute(new Forget({ id: ada.id }));
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
        const consumers = await jsm.consumers.list(nats.stream).next();
        return (
          consumers.length === 2 && consumers.every((c) => c.num_pending === 0 && c.num_ack_pending === 0)
        );
      },
      () => 'still pending',
    );
    expect((await jsm.streams.info(`${nats.stream}_DEAD`)).state.messages).toBe(0);
    expect(errors).toEqual([]);
  });

  it('fails a sealed message loudly, never handing it sealed to a handler, where there is no reader or no master key', async () => {
    const handled: unknown[] = [];
    const note = eventHandler({ name: 'note', idempotent: true }, Registered, (e) => void handled.push(e));
    const errors: { service: string; error: Error }[] = [];
    const onError = (service: string) => (error: unknown) => errors.push({ service, error: error as Error });
    // A bus given no application at all, and one whose application has no master key.
    const bare = await consumer([note], false);
    const noReader = await connectBus('bare', { maxDeliveries: 2, onError: onError('bare') });
    consumeFromBus(bare, noReader, [note]);
    const keyless = await consumer([note], false);
    const noKey = await connectBus('keyless', {
      application: keyless,
      maxDeliveries: 2,
      onError: onError('keyless'),
    });
    consumeFromBus(keyless, noKey, [note]);

    const jsm = await jetstreamManager(admin);
    const dead = `${nats.stream}_DEAD`;
    await eventually(
      async () => (await jsm.streams.info(dead)).state.messages === 2,
      () => errors.map(({ service, error }) => `${service}: ${error.message}`),
    );
    expect(handled).toEqual([]);
    for (const service of ['bare', 'keyless']) {
      const reported = errors.filter((e) => e.service === service);
      expect(reported.length).toBeGreaterThanOrEqual(2); // each delivery
      expect(reported[0]?.error.message).toMatch(/master key/);
    }
    expect(errors.find((e) => e.service === 'bare')?.error.message).toMatch(
      /NatsMessageBus\.connect\(\{ application \}\)/,
    );
    const letters = [
      await jsm.streams.getMessage(dead, { seq: 1 }),
      await jsm.streams.getMessage(dead, { seq: 2 }),
    ];
    for (const letter of letters) expect(letter?.header.get('Myelin-Error')).toMatch(/master key/);
  });
});
