// From one service's log to another service's handler: @myelin/postgres publishes integration events from its
// outbox to NATS; the other service consumes them into an idempotent handler.

import { PGlite } from '@electric-sql/pglite';
import {
  AggregateRoot,
  type Application,
  command,
  consumeFromBus,
  createApplication,
  event,
  eventHandler,
  handler,
  type MessageBus,
  ok,
  type Repository,
  token,
  unchecked,
} from '@myelin/core';
import { newEvent } from '@myelin/core/testing';
import { NatsMessageBus } from '@myelin/nats';
import {
  type Database,
  IntegrationPublisher,
  postgresEventSourcedRepository,
  postgresPersistence,
} from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import { pgliteDatabase } from '@myelin/postgres/pglite';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';

const servers = process.env.NATS_URL ?? '127.0.0.1:4222';
const OrderPlaced = event('e2e.order.placed.v1', unchecked<{ orderId: string; pizzas: number }>(), {
  integration: true,
});

class Order extends AggregateRoot<{ pizzas: number }, InstanceType<typeof OrderPlaced>> {
  constructor(id: string) {
    super(id, { pizzas: 0 });
  }
  place(pizzas: number): void {
    this.raise(new OrderPlaced({ orderId: this.id, pizzas }));
  }
  protected override apply(_state: { pizzas: number }, e: InstanceType<typeof OrderPlaced>) {
    return { pizzas: e.pizzas };
  }
}
const Orders = token<Repository<Order>>('Orders');
const PlaceOrder = command('e2e.placeOrder', unchecked<{ id: string; pizzas: number }>()).returns<void>();

async function eventually(check: () => boolean, what: () => unknown, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not reached in ${ms} ms: ${JSON.stringify(what())}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('integration events from a PostgreSQL outbox to another service over NATS JetStream', () => {
  it('arrive once each, in order, at an idempotent handler, even when the publisher sends them twice', {
    timeout: 30_000,
  }, async () => {
    const id = crypto.randomUUID().replaceAll('-', '').slice(0, 10);
    const natsOptions = {
      servers,
      stream: `E_${id}`,
      subjectPrefix: `e${id}.events`,
      deadLetterPrefix: `e${id}.dead`,
    };
    // Two services' databases: schemas of one embedded PGlite, whose start is seconds of CPU on a busy machine.
    const pglite = await PGlite.create();
    const orders = await pgliteDatabase({ pglite, schema: 'orders' });
    const kitchen = await pgliteDatabase({ pglite, schema: 'kitchen' });
    const ordersBus = await NatsMessageBus.connect({ ...natsOptions, service: 'orders' });
    const kitchenBus = await NatsMessageBus.connect({ ...natsOptions, service: 'kitchen' });
    const cooked: string[] = [];
    try {
      const ordersApp = await createApplication()
        .include(postgresPersistence(orders))
        .register(postgresEventSourcedRepository(Orders, Order, { events: [OrderPlaced] }))
        .handle(
          handler(PlaceOrder, { repository: Orders }, async (c, { repository }) => {
            const order = new Order(c.id);
            order.place(c.pizzas);
            await repository.add(order);
            return ok(undefined);
          }),
        )
        .build();
      const cook = eventHandler({ name: 'cook', idempotent: true }, OrderPlaced, (e) => {
        cooked.push(`${e.orderId}:${e.pizzas}`);
      });
      const kitchenApp = await createApplication().include(postgresPersistence(kitchen)).handle(cook).build();
      const stop = consumeFromBus(kitchenApp, kitchenBus, [cook]);

      for (let i = 1; i <= 5; i++)
        await ordersApp.mediator.execute(new PlaceOrder({ id: `o${i}`, pizzas: i }));
      const publisher = new IntegrationPublisher(ordersApp, orders, ordersBus, {
        events: [OrderPlaced],
        pollMs: 100,
      }).start();
      const expected = [1, 2, 3, 4, 5].map((i) => `o${i}:${i}`);
      await eventually(
        () => cooked.length === 5,
        () => cooked,
      );
      await publisher.stop();

      // A crash before the checkpoint moved: the publisher sends everything again.
      await orders.query(`UPDATE ${orders.schema}.subscriptions SET transaction_id = '0', sequence = 0`);
      const again = new IntegrationPublisher(ordersApp, orders, ordersBus, {
        events: [OrderPlaced],
        pollMs: 100,
      }).start();
      await ordersApp.mediator.execute(new PlaceOrder({ id: 'o6', pizzas: 6 }));
      await eventually(
        () => cooked.length === 6,
        () => cooked,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await again.stop();
      stop();
      expect(cooked).toEqual([...expected, 'o6:6']);
      // The broker dropped the five it had (Nats-Msg-Id within the duplicate window).
      const admin = await connect({ servers });
      const stored = (await (await jetstreamManager(admin)).streams.info(natsOptions.stream)).state.messages;
      await admin.close();
      expect(stored).toBe(6);
      await ordersApp.dispose();
      await kitchenApp.dispose();
    } finally {
      await ordersBus.close();
      await kitchenBus.close();
      const admin = await connect({ servers });
      const jsm = await jetstreamManager(admin);
      await jsm.streams.delete(natsOptions.stream).catch(() => {});
      await jsm.streams.delete(`${natsOptions.stream}_DEAD`).catch(() => {});
      await admin.close();
      await pglite.close();
    }
  });
});

describe('two consumer processes sharing a subscription, one of them dying mid-batch', () => {
  it('handle every event exactly once in effect: what the dead one committed but never acked is not redone', {
    timeout: 30_000,
  }, async () => {
    const id = crypto.randomUUID().replaceAll('-', '').slice(0, 10);
    const natsOptions = {
      servers,
      stream: `K_${id}`,
      subjectPrefix: `k${id}.events`,
      deadLetterPrefix: `k${id}.dead`,
      ackWaitMs: 1000,
      onError: () => {},
    };
    const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    const schema = `nats_${id}`;
    // Two processes of the kitchen service: their own database handles on one database, their own NATS connections.
    const handles = [0, 1].map(() => postgresDatabase({ connectionString: url, schema }));
    const cut = await connect({ servers });
    const buses = [
      await NatsMessageBus.connect({ ...natsOptions, service: 'kitchen', connection: cut }),
      await NatsMessageBus.connect({ ...natsOptions, service: 'kitchen' }),
    ];
    const orders = await NatsMessageBus.connect({ ...natsOptions, service: 'orders' });
    const cooked = new Map<string, number>();
    let handledByFirst = 0;
    const apps: Application[] = [];
    try {
      for (const [i, database] of handles.entries()) {
        const cook = eventHandler({ name: 'cook', idempotent: true }, OrderPlaced, async (e) => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          cooked.set(e.orderId, (cooked.get(e.orderId) ?? 0) + 1);
        });
        const app = await createApplication().include(postgresPersistence(database)).handle(cook).build();
        apps.push(app);
        const bus = buses[i] as NatsMessageBus;
        // The first process dies right after its fourth handler committed, before the bus could acknowledge it.
        const dying: MessageBus = {
          publish: (messages) => bus.publish(messages),
          subscribe: (type, handler, options) =>
            bus.subscribe(
              type,
              async (message) => {
                await handler(message);
                if (i === 0 && ++handledByFirst === 4) await cut.close();
              },
              options,
            ),
        };
        consumeFromBus(app, i === 0 ? dying : bus, [cook]);
      }
      const placed = Array.from({ length: 40 }, (_, n) =>
        newEvent(OrderPlaced.type, { orderId: `k${n}`, pizzas: 1 }, { correlationId: 'c' }),
      );
      await orders.publish(placed);
      const db = handles[1] as Database;
      const inbox = async () =>
        (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".inbox`)).rows[0]?.n ?? 0;
      await eventually(
        () => handledByFirst >= 4,
        () => handledByFirst,
      );
      const deadline = Date.now() + 20_000;
      while ((await inbox()) < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((resolve) => setTimeout(resolve, 1500)); // one more ack wait: nothing else comes
      expect(await inbox()).toBe(40);
      // In effect once: the fourth order's cooking committed (inbox row) exactly once, whoever got it again.
      expect([...cooked.keys()].sort()).toEqual(placed.map((p) => p.data.orderId).sort());
      expect([...cooked.values()].every((n) => n === 1)).toBe(true);
    } finally {
      for (const bus of [...buses, orders]) await bus.close().catch(() => {});
      for (const app of apps) await app.dispose();
      await (handles[0] as Database).exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      for (const database of handles) await database.close();
      const admin = await connect({ servers });
      const jsm = await jetstreamManager(admin);
      await jsm.streams.delete(natsOptions.stream).catch(() => {});
      await jsm.streams.delete(`${natsOptions.stream}_DEAD`).catch(() => {});
      await admin.close();
    }
  });
});
