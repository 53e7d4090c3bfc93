import { forbidden, handler, ok, unauthorized } from '@myelin/core';
import { toppings } from '../../domain/orderItem.ts';
import { Menu } from '../projections/menu.ts';
import { GetMenu } from '../queries/getMenu.ts';
import { roles } from '../roles.ts';
import { menuEntryDto } from '../views.ts';

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
