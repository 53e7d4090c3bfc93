import { type Application, createApplication, type Module } from '@myelin/core';
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
import { countDeliveries } from './reactions/countDeliveries.ts';

export interface PizzeriaOptions {
  /** What time it is; tests stop the clock. */
  readonly clock?: () => Date;
}

/**
 * The whole pizzeria as one module, given where it keeps its state (`storage.ts`): every handler and every
 * authorization policy. The same module runs in every process; what a process does besides (serve HTTP, run
 * the projections) is `main.ts`'s business.
 */
export function pizzeria(storage: Module, options: PizzeriaOptions = {}): Module {
  const clock = options.clock ?? (() => new Date());
  return (app) =>
    app
      .include(storage, authorization)
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

/** Builds the pizzeria's application on a storage (`postgresStorage(database)`, `memoryStorage()`). */
export function buildPizzeria(storage: Module, options: PizzeriaOptions = {}): Promise<Application> {
  return createApplication().include(pizzeria(storage, options)).build();
}
