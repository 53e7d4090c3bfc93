import { type Application, createApplication, Logger, type Module, metrics, tracing } from '@myelin/core';
import { alerts } from './alerts/alerts.ts';
import { type AlertTimes, defaultAlertTimes } from './alerts/orderWatch.ts';
import { customers } from './customers/customers.ts';
import { delivery } from './delivery/delivery.ts';
import { kitchen } from './kitchen/kitchen.ts';
import { menu } from './menu/menu.ts';
import { orders } from './orders/orders.ts';
import { Clock } from './shared/clock.ts';
import { stats } from './stats/stats.ts';

export interface PizzeriaOptions {
  /** What time it is; tests stop the clock. */
  readonly clock?: () => Date;
  /** The process's logger: background workers report to it what they survive (the console by default). */
  readonly logger?: Logger;
  /** When an order waits too long (alerts, stale-order cancellation); 10, 15 and 60 minutes by default. */
  readonly alerts?: Partial<AlertTimes>;
}

/**
 * The whole pizzeria as one module, given where it keeps its state (`storage.ts`): each area (orders, kitchen,
 * delivery, menu, statistics, customers) with its use cases, each use case its handler and who may send it, and the order watch that raises alerts. The same module
 * runs in every process; what a process does besides (serve HTTP, run the projections) is `main.ts`'s business.
 */
export function pizzeria(storage: Module, options: PizzeriaOptions = {}): Module {
  const clock = options.clock ?? (() => new Date());
  // Spans and durations of every request and event delivery: no-ops until the process registers an SDK.
  return (app) =>
    app
      .use(tracing(), metrics())
      .include(
        storage,
        orders,
        kitchen,
        delivery,
        menu,
        stats,
        customers,
        alerts({ ...defaultAlertTimes, ...options.alerts }),
      )
      .include((builder) => {
        const logger = options.logger;
        if (logger !== undefined) builder.singleton(Logger, () => logger);
      })
      .singleton(Clock, () => clock);
}

/** Builds the pizzeria's application on a storage (`postgresStorage(database)`, `memoryStorage()`). */
export function buildPizzeria(storage: Module, options: PizzeriaOptions = {}): Promise<Application> {
  return createApplication().include(pizzeria(storage, options)).build();
}
