import type { Module } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { takeStep } from '../shared/takeStep.ts';
import { MarkDelivered } from './contract.ts';

export const markDelivered: Module = (app) =>
  app
    // Only the driver carrying the order may hand it over.
    .authorize(MarkDelivered, { roles: [roles.driver] })
    .handle(takeStep(MarkDelivered, (order, _cmd, driver, now) => order.markDelivered(driver, now)));
