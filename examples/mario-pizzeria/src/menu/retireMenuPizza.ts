import { handler, type Module, noContent, notFound } from '@myelin/core';
import { MenuPizzas } from '../shared/repositories.ts';
import { roles } from '../shared/roles.ts';
import { RetireMenuPizza } from './contract.ts';

export const retireMenuPizza: Module = (app) =>
  app.authorize(RetireMenuPizza, { roles: [roles.manager] }).handle(
    handler(RetireMenuPizza, { menu: MenuPizzas }, async (cmd, { menu }) => {
      const pizza = await menu.get(cmd.id);
      if (pizza === undefined) return notFound('MenuPizza', cmd.id);
      pizza.retire();
      if (pizza.pendingEvents.length > 0) await menu.update(pizza);
      return noContent();
    }),
  );
