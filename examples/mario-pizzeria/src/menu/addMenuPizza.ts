import { conflict, created, handler, type Module } from '@myelin/core';
import { MenuPizza } from '../domain/menuPizza.ts';
import { Money } from '../domain/money.ts';
import { attempt } from '../shared/domainProblems.ts';
import { MenuPizzas } from '../shared/repositories.ts';
import { roles } from '../shared/roles.ts';
import { menuPizzaDto } from '../shared/views.ts';
import { AddMenuPizza } from './contract.ts';
import { freeId, named } from './menuNames.ts';

export const addMenuPizza: Module = (app) =>
  app.authorize(AddMenuPizza, { roles: [roles.manager] }).handle(
    handler(AddMenuPizza, { menu: MenuPizzas }, async (cmd, { menu }) => {
      const price = Money.fromDollars(cmd.basePrice);
      const existing = await named(menu, cmd.name);
      if (existing?.state.available === true) {
        return conflict(`A pizza named '${existing.state.name}' is on the menu already`);
      }
      if (existing !== undefined) {
        const outcome = attempt(() => existing.offerAgain(cmd.name, cmd.description, price));
        if (!outcome.ok) return outcome;
        await menu.update(existing);
        return created(menuPizzaDto(existing), `/api/menu/${existing.id}`);
      }
      const id = await freeId(menu, cmd.name);
      const outcome = attempt(() => MenuPizza.add(id, cmd.name, cmd.description, price));
      if (!outcome.ok) return outcome;
      await menu.add(outcome.value);
      return created(menuPizzaDto(outcome.value), `/api/menu/${id}`);
    }),
  );
