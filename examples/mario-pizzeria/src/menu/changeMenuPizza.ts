import { conflict, handler, type Module, notFound, ok } from '@myelin/core';
import { Money } from '../domain/money.ts';
import { attempt } from '../shared/domainProblems.ts';
import { MenuPizzas } from '../shared/repositories.ts';
import { roles } from '../shared/roles.ts';
import { menuPizzaDto } from '../shared/views.ts';
import { ChangeMenuPizza } from './contract.ts';
import { named } from './menuNames.ts';

export const changeMenuPizza: Module = (app) =>
  app.authorize(ChangeMenuPizza, { roles: [roles.manager] }).handle(
    handler(ChangeMenuPizza, { menu: MenuPizzas }, async (cmd, { menu }) => {
      const pizza = await menu.get(cmd.id);
      if (pizza === undefined) return notFound('MenuPizza', cmd.id);
      if (cmd.name !== undefined) {
        const other = await named(menu, cmd.name);
        if (other !== undefined && other.id !== pizza.id) {
          return conflict(`Another pizza is named '${other.state.name}' already`);
        }
      }
      const outcome = attempt(() =>
        pizza.change({
          ...(cmd.name === undefined ? {} : { name: cmd.name }),
          ...(cmd.description === undefined ? {} : { description: cmd.description }),
          ...(cmd.basePrice === undefined ? {} : { basePrice: Money.fromDollars(cmd.basePrice) }),
        }),
      );
      if (!outcome.ok) return outcome;
      if (pizza.pendingEvents.length > 0) await menu.update(pizza);
      return ok(menuPizzaDto(pizza));
    }),
  );
