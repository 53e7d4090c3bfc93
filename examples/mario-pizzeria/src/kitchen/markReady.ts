import type { Module } from '@myelin/core';
import { roles } from '../shared/roles.ts';
import { takeStep } from '../shared/takeStep.ts';
import { MarkReady } from './contract.ts';

export const markReady: Module = (app) =>
  app
    .authorize(MarkReady, { roles: [roles.chef] })
    .handle(takeStep(MarkReady, (order, _cmd, _by, now) => order.markReady(now)));
