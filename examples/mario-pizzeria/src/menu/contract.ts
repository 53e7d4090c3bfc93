// What clients see of the menu: its messages and routes (handler-free: the browser imports it). Managers keep
// the menu: add a pizza (or put a retired one back), change it, retire it. Orders already placed keep the name
// and price they were placed with.
import { command, query } from '@myelin/core';
import { del, get, post, put } from '@myelin/http/client';
import * as z from 'zod';
import { MenuDto, MenuPizzaDto } from '../shared/dtos.ts';
import { shownText } from '../shared/shownText.ts';

/** Customers read the menu: its names and descriptions are refused when they hide characters from them. */
const name = shownText(60).min(1);
const description = shownText(300);
/**
 * In dollars, as the API shows money; kept in cents, rounded half-up. Half a cent is the least that rounds to a
 * cent: anything less would be a free pizza, refused here so that the 400 names the field (the domain refuses it
 * too, for whatever does not come through this schema, such as the seeded menu).
 */
const basePrice = z.number().min(0.005, 'A pizza costs at least a cent').max(1000);

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
