import type { Module } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { takeStep } from '../shared/takeStep.ts';
import { StartCooking } from './contract.ts';

export const startCooking: Module = (app) =>
  app
    // A chef cooks; the chef is whoever sends it.
    .authorize(StartCooking, { roles: [roles.chef] })
    .handle(takeStep(StartCooking, (order, _cmd, chef, now) => order.startCooking(chef, now)));
