import type { Module } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { takeStep } from '../shared/takeStep.ts';
import { StartDelivery } from './contract.ts';

export const startDelivery: Module = (app) =>
  app
    // Any driver may take out an unassigned order; an assigned one only its driver (403 otherwise).
    .authorize(StartDelivery, { roles: [roles.driver] })
    .handle(takeStep(StartDelivery, (order, _cmd, driver, now) => order.startDelivery(driver, now)));
