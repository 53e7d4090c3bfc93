import type { Module } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { takeStep } from '../shared/takeStep.ts';
import { CancelOrder } from './contract.ts';

export const cancelOrder: Module = (app) =>
  app
    // A manager cancels any order not delivered or cancelled yet.
    .authorize(CancelOrder, { roles: [roles.manager] })
    .handle(takeStep(CancelOrder, (order, _cmd, manager, now) => order.cancel(manager, now)));
