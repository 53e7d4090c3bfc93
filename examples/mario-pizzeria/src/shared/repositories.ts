// The write side's repositories, as tokens: handlers depend on these, and the pizzeria module says how each is
// stored (orders event-sourced, customers and menu pizzas state-stored). A handler cannot tell which it got.
import { type QueryableRepository, type Repository, token } from '@myelin/core';
import type { Customer } from '../domain/customer.ts';
import type { MenuPizza } from '../domain/menuPizza.ts';
import type { Order } from '../domain/order.ts';

export const Orders = token<Repository<Order>>('Orders');
export const Customers = token<Repository<Customer>>('Customers');
export const MenuPizzas = token<QueryableRepository<MenuPizza>>('MenuPizzas');
