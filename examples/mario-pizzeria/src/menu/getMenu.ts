import { forbidden, handler, type Module, ok, unauthorized } from '@myelin/core';
import { toppings } from '../domain/orderItem.ts';
import { roles } from '../shared/roles.ts';
import { menuEntryDto } from '../shared/views.ts';
import { GetMenu } from './contract.ts';
import { Menu } from './menuProjection.ts';

export const getMenu: Module = (app) =>
  app
    // Anyone reads the menu.
    .authorize(GetMenu, { anonymous: true })
    .handle(
      handler(GetMenu, { menu: Menu }, async (q, { menu }, context) => {
        // Anyone reads the menu; only managers see what was taken off it.
        if (q.all === true) {
          if (context.principal === undefined)
            return unauthorized('Sign in as a manager to see retired pizzas');
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
      }),
    );
