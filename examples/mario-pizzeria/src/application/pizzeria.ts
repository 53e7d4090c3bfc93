import { type Application, createApplication, type Module } from '@myelin/core';
import { type Database, postgresPersistence, postgresProjections } from '@myelin/postgres';
import { authorization } from './authorization.ts';
import { Clock } from './clock.ts';
import { getDeliveryBoard } from './handlers/getDeliveryBoard.ts';
import { getKitchenQueue } from './handlers/getKitchenQueue.ts';
import { getMenu } from './handlers/getMenu.ts';
import { getOrder } from './handlers/getOrder.ts';
import { getStatistics } from './handlers/getStatistics.ts';
import { listOrders } from './handlers/listOrders.ts';
import { addMenuPizza, changeMenuPizza, retireMenuPizza } from './handlers/menuChanges.ts';
import {
  assignDriver,
  cancelOrder,
  markDelivered,
  markReady,
  startCooking,
  startDelivery,
} from './handlers/orderTransitions.ts';
import { placeOrder } from './handlers/placeOrder.ts';
import { seedMenu } from './handlers/seedMenu.ts';
import { deliveryBoard } from './projections/deliveryBoard.ts';
import { kitchenQueue } from './projections/kitchenQueue.ts';
import { menu } from './projections/menu.ts';
import { orderSummaries } from './projections/orderSummaries.ts';
import { statistics } from './projections/statistics.ts';
import { countDeliveries } from './reactions/countDeliveries.ts';
import { repositoriesModule } from './repositoriesModule.ts';

/** Every read model's projection: two inline (orders, menu), three async (kitchen, delivery, statistics). */
export const projections = [orderSummaries, menu, kitchenQueue, deliveryBoard, statistics] as const;

export interface PizzeriaOptions {
  /** What time it is; tests stop the clock. */
  readonly clock?: () => Date;
  /** How long a query given a `Myelin-Position` waits for an async read model; defaults to 2 s. */
  readonly readYourWritesTimeoutMs?: number;
  /** Close the database when the application is disposed (the process owns both); defaults to false. */
  readonly closeDatabase?: boolean;
}

/**
 * The whole pizzeria as one module: persistence on the given database (migrated when the application is built),
 * the repositories, the projections, every handler and every authorization policy. The same module runs in
 * every process; what a process does besides (serve HTTP, run the projections) is `main.ts`'s business.
 */
export function pizzeria(database: Database, options: PizzeriaOptions = {}): Module {
  const clock = options.clock ?? (() => new Date());
  return (app) =>
    app
      .include(
        // Two commands racing on one aggregate: the loser runs again on fresh state (and may then get a 409
        // from the state machine, which says more than "someone else was first").
        postgresPersistence(database, {
          retryOnConflict: { retries: 3 },
          closeOnDispose: options.closeDatabase === true,
        }),
        postgresProjections(
          projections,
          options.readYourWritesTimeoutMs === undefined
            ? {}
            : { readYourWritesTimeoutMs: options.readYourWritesTimeoutMs },
        ),
        repositoriesModule,
        authorization,
      )
      .singleton(Clock, () => clock)
      .handle(
        placeOrder,
        startCooking,
        markReady,
        assignDriver,
        startDelivery,
        markDelivered,
        cancelOrder,
        addMenuPizza,
        changeMenuPizza,
        retireMenuPizza,
        seedMenu,
        getOrder,
        listOrders,
        getKitchenQueue,
        getDeliveryBoard,
        getMenu,
        getStatistics,
        countDeliveries,
      );
}

/** Builds the pizzeria's application on a database. */
export function buildPizzeria(database: Database, options: PizzeriaOptions = {}): Promise<Application> {
  return createApplication().include(pizzeria(database, options)).build();
}
