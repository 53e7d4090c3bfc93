// The kitchen: its queue, and the chef's two steps of an order.
import type { Module } from '@myelin/core';
import { getKitchenQueue } from './getKitchenQueue.ts';
import { markReady } from './markReady.ts';
import { startCooking } from './startCooking.ts';

export const kitchen: Module = (app) => app.include(getKitchenQueue, startCooking, markReady);
