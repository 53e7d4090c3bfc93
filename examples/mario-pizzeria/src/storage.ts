// Where the pizzeria keeps its state: PostgreSQL (or PGlite) when it runs, memory in handler tests. Handlers
// depend only on the repository and read-model tokens, so the same pizzeria runs on either.
import type { Clock, MasterKey, Module } from '@myelin/core';
import {
  InMemoryDatabase,
  inMemoryEventSourcedRepository,
  inMemoryPersistence,
  inMemoryProjections,
  inMemoryStateStoredRepository,
} from '@myelin/core/memory';
import {
  type Database,
  postgresEventSourcedRepository,
  postgresPersistence,
  postgresProjections,
  postgresStateStoredRepository,
} from '@myelin/postgres';
import { alertBoard } from './alerts/alertBoard.ts';
import { deliveryBoard } from './delivery/deliveryBoard.ts';
import { Customer } from './domain/customer.ts';
import { MenuPizza } from './domain/menuPizza.ts';
import { Order } from './domain/order.ts';
import { orderEvents } from './domain/orderEvents.ts';
import { kitchenQueue } from './kitchen/kitchenQueue.ts';
import { menu } from './menu/menuProjection.ts';
import { orderSummaries } from './orders/orderSummaries.ts';
import { Customers, MenuPizzas, Orders } from './shared/repositories.ts';
import { statistics } from './stats/statistics.ts';

/** Every read model's projection: two inline (orders, menu), four async (kitchen, delivery, statistics, alerts). */
export const projections = [
  orderSummaries,
  menu,
  kitchenQueue,
  deliveryBoard,
  statistics,
  alertBoard,
] as const;

export interface StorageOptions {
  /** The clock scheduled messages come due by (the alerts); tests give a `TestClock`. The system's by default. */
  readonly scheduleClock?: Clock;
  /** How long a query given a `Myelin-Position` waits for an async read model; defaults to 2 s. */
  readonly readYourWritesTimeoutMs?: number;
}

// Two commands racing on one aggregate: the loser runs again on fresh state (and may then get a 409 from the
// state machine, which says more than "someone else was first").
const retryOnConflict = { retries: 3 };

/**
 * The pizzeria on PostgreSQL or PGlite, migrated when the application is built. Orders are event-sourced: their
 * history is the point (who cooked, when it was ready), and a handful of events per order needs no snapshots.
 * Customers and menu pizzas are state-stored: their current details are what matter, and the menu is searched.
 */
export function postgresStorage(
  database: Database,
  options: StorageOptions & {
    /**
     * Wraps each customer's data key: their personal data (`order.placed.v1`'s and the customer events' marked
     * fields) is sealed in the log with it, and erasing a customer deletes their key. Required: without it an order
     * could not be stored.
     */
    readonly masterKey: MasterKey;
    /**
     * The master keys `masterKey` replaced: each still opens the data keys it wrapped, until a rewrap
     * (`masterKeys.ts`) has wrapped them under `masterKey`.
     */
    readonly previousMasterKeys?: readonly MasterKey[] | undefined;
    /** Close the database when the application is disposed (the process owns both); defaults to false. */
    readonly closeDatabase?: boolean;
  },
): Module {
  return (app) =>
    app
      .include(
        postgresPersistence(database, {
          retryOnConflict,
          personalData: {
            masterKey: options.masterKey,
            ...(options.previousMasterKeys === undefined
              ? {}
              : { previousMasterKeys: options.previousMasterKeys }),
          },
          closeOnDispose: options.closeDatabase === true,
          ...(options.scheduleClock === undefined ? {} : { clock: options.scheduleClock }),
        }),
        postgresProjections(projections, projectionOptions(options)),
      )
      .register(postgresEventSourcedRepository(Orders, Order, { events: orderEvents }))
      .register(postgresStateStoredRepository(Customers, Customer))
      .register(postgresStateStoredRepository(MenuPizzas, MenuPizza));
}

/** The pizzeria in memory, with the same semantics: for handler tests, which then need no database. */
export function memoryStorage(database = new InMemoryDatabase(), options: StorageOptions = {}): Module {
  return (app) =>
    app
      .include(
        inMemoryPersistence(database, {
          retryOnConflict,
          ...(options.scheduleClock === undefined ? {} : { clock: options.scheduleClock }),
        }),
        inMemoryProjections(projections, projectionOptions(options)),
      )
      .register(inMemoryEventSourcedRepository(Orders, Order, { events: orderEvents }))
      .register(inMemoryStateStoredRepository(Customers, Customer))
      .register(inMemoryStateStoredRepository(MenuPizzas, MenuPizza));
}

function projectionOptions(options: StorageOptions) {
  return options.readYourWritesTimeoutMs === undefined
    ? {}
    : { readYourWritesTimeoutMs: options.readYourWritesTimeoutMs };
}
