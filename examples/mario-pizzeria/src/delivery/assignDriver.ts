import type { Module } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { takeStep } from '../shared/takeStep.ts';
import { AssignDriver } from './contract.ts';

export const assignDriver: Module = (app) =>
  app
    .authorize(AssignDriver, { roles: [roles.manager] })
    .handle(
      takeStep(AssignDriver, (order, cmd, manager, now) => order.assignDriver(cmd.driverId, manager, now)),
    );
