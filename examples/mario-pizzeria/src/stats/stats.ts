// The manager's numbers.
import type { Module } from '@myelin/core';
import { getStatistics } from './getStatistics.ts';

export const stats: Module = (app) => app.include(getStatistics);
