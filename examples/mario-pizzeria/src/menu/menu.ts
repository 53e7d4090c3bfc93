// The menu: reading it, a manager's changes, and the default menu a new pizzeria opens with.
import type { Module } from '@myelin/core';
import { addMenuPizza } from './addMenuPizza.ts';
import { changeMenuPizza } from './changeMenuPizza.ts';
import { getMenu } from './getMenu.ts';
import { retireMenuPizza } from './retireMenuPizza.ts';
import { seedMenu } from './seedMenu.ts';

export const menu: Module = (app) =>
  app.include(getMenu, addMenuPizza, changeMenuPizza, retireMenuPizza, seedMenu);
