// Managers keep the menu: add a pizza (or put a retired one back), change it, retire it. Orders already placed
// keep the name and price they were placed with.
import { command } from '@myelin/core';
import { z } from 'zod';
import { MenuPizzaDto } from '../dtos.ts';

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
