import type { Module } from '@myelin/core';
import { postgresEventSourcedRepository, postgresStateStoredRepository } from '@myelin/postgres';
import { Customer } from '../domain/customer.ts';
import { MenuPizza } from '../domain/menuPizza.ts';
import { Order } from '../domain/order.ts';
import { orderEvents } from '../domain/orderEvents.ts';
import { Customers, MenuPizzas, Orders } from './repositories.ts';

/**
 * How each aggregate is stored. Orders are event-sourced: their history is the point (who cooked, when it was
 * ready), and a handful of events per order needs no snapshots. Customers and menu pizzas are state-stored:
 * their current details are what matter, and the menu is searched by name.
 */
export const repositoriesModule: Module = (app) =>
  app
    .register(postgresEventSourcedRepository(Orders, Order, { events: orderEvents }))
    .register(postgresStateStoredRepository(Customers, Customer))
    .register(postgresStateStoredRepository(MenuPizzas, MenuPizza));
