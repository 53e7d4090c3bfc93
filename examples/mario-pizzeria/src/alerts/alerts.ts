// The orders that wait too long: the order watch (a process manager) raises the alerts and cancels stale orders;
// the manager's dashboard shows the alerts live.
import type { Module } from '@myelin/core';
import { cancelStaleOrder } from './cancelStaleOrder.ts';
import { getAlerts } from './getAlerts.ts';
import { type AlertTimes, orderWatch } from './orderWatch.ts';

export function alerts(times: AlertTimes): Module {
  return (app) => app.include(orderWatch(times).module, cancelStaleOrder, getAlerts);
}
