import { forbidden, handler, ok, query, unauthorized } from '@myelin/core';
import { z } from 'zod';
import { toppings } from '../../domain/orderItem.ts';
import { type MenuDto, menuEntryDto } from '../dtos.ts';
import { Menu } from '../projections/menu.ts';
import { roles } from '../roles.ts';

export const GetMenu = query('GetMenu', z.object({ all: z.boolean().optional() }), {
  description: 'The pizzas on the menu, and the toppings; managers may ask for retired pizzas too (all=true)',
}).returns<MenuDto>();

export const getMenu = handler(GetMenu, { menu: Menu }, async (q, { menu }, context) => {
  // Anyone reads the menu; only managers see what was taken off it.
  if (q.all === true) {
    if (context.principal === undefined) return unauthorized('Sign in as a manager to see retired pizzas');
    if (!context.principal.roles.includes(roles.manager)) {
      return forbidden('Only managers see retired pizzas');
    }
  }
  const page = await menu.find({
    where: q.all === true ? {} : { available: true },
    sort: [{ field: 'name' }],
    pageSize: 200,
  });
  return ok({ items: page.items.map(menuEntryDto), toppings: [...toppings] });
});
