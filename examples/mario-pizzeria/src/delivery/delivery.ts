// Deliveries: the board, assigning a driver, taking an order out and handing it over; and counting each
// customer's deliveries when one is made.
import type { Module } from '@myelin/core';
import { assignDriver } from './assignDriver.ts';
import { countDeliveries } from './countDeliveries.ts';
import { getDeliveryBoard } from './getDeliveryBoard.ts';
import { markDelivered } from './markDelivered.ts';
import { startDelivery } from './startDelivery.ts';

export const delivery: Module = (app) =>
  app.include(getDeliveryBoard, assignDriver, startDelivery, markDelivered).handle(countDeliveries);
