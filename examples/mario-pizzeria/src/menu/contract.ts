// What clients see of the menu: its messages and routes (handler-free: the browser imports it). Managers keep
// the menu: add a pizza (or put a retired one back), change it, retire it. Orders already placed keep the name
// and price they were placed with.
import { command, query } from '@myelin/core';
import { del, get, post, put } from '@myelin/http/client';
import * as z from 'zod';
import { MenuDto, MenuPizzaDto } from '../shared/dtos.ts';

// Managers keep the menu: add a pizza (or put a retired one back), change it, retire it. Orders already placed
// keep the name and price they were placed with.

const name = z.string().trim().min(1).max(60);
const description = z.string().trim().max(300);
/** In dollars, as the API shows money; kept in cents, rounded half-up. */
const basePrice = z.number().positive().max(1000);

export const AddMenuPizza = command(
  'AddMenuPizza',
  z.object({ name, description: description.default(''), basePrice }),
  { description: 'Puts a pizza on the menu (or a retired one back on it)' },
).returns(MenuPizzaDto);

export const ChangeMenuPizza = command(
  'ChangeMenuPizza',
  z.object({
    id: z.string().min(1).max(100),
    name: name.optional(),
    description: description.optional(),
    basePrice: basePrice.optional(),
  }),
  { description: "Changes a pizza's name, description or base price" },
).returns(MenuPizzaDto);

export const RetireMenuPizza = command('RetireMenuPizza', z.object({ id: z.string().min(1).max(100) }), {
  description: 'Takes a pizza off the menu',
}).returns<void>();

export const GetMenu = query('GetMenu', z.object({ all: z.boolean().optional() }), {
  description: 'The pizzas on the menu, and the toppings; managers may ask for retired pizzas too (all=true)',
}).returns(MenuDto);

/** Internal: run at start-up by every process, never routed. */
export const SeedMenu = command('SeedMenu', z.object({})).returns(
  z.object({ added: z.array(z.string()).readonly() }),
);

export const menuRoutes = {
  getMenu: get('/api/menu', GetMenu, { tags: ['menu'], summary: 'The menu and the toppings' }),
  addPizza: post('/api/menu', AddMenuPizza, { problems: [409], tags: ['menu'], summary: 'Add a pizza' }),
  changePizza: put('/api/menu/{id}', ChangeMenuPizza, {
    problems: [404, 409],
    tags: ['menu'],
    summary: 'Change a pizza',
  }),
  retirePizza: del('/api/menu/{id}', RetireMenuPizza, {
    problems: [404],
    tags: ['menu'],
    summary: 'Retire a pizza',
  }),
};
