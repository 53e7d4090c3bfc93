import { conflict, created, handler, noContent, notFound, ok, type QueryableRepository } from '@myelin/core';
import { MenuPizza, menuKey, menuSlug } from '../../domain/menuPizza.ts';
import { Money } from '../../domain/money.ts';
import { AddMenuPizza, ChangeMenuPizza, RetireMenuPizza } from '../commands/menuChanges.ts';
import { attempt } from '../domainProblems.ts';
import { MenuPizzas } from '../repositories.ts';
import { menuPizzaDto } from '../views.ts';

type Menu = QueryableRepository<MenuPizza>;

/** The pizza whose name reads the same as `pizzaName` (whatever its case and spacing), if any. */
async function named(menu: Menu, pizzaName: string): Promise<MenuPizza | undefined> {
  return (await menu.find({ where: { key: menuKey(pizzaName) } })).items[0];
}

/** A free id from the name: its slug, or the slug and a number when a renamed pizza holds the slug already. */
async function freeId(menu: Menu, pizzaName: string): Promise<string> {
  const slug = menuSlug(pizzaName);
  for (let n = 1; ; n++) {
    const id = n === 1 ? slug : `${slug}-${n}`;
    if (!(await menu.exists(id))) return id;
  }
}

export const addMenuPizza = handler(AddMenuPizza, { menu: MenuPizzas }, async (cmd, { menu }) => {
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
});

export const changeMenuPizza = handler(ChangeMenuPizza, { menu: MenuPizzas }, async (cmd, { menu }) => {
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
});

export const retireMenuPizza = handler(RetireMenuPizza, { menu: MenuPizzas }, async (cmd, { menu }) => {
  const pizza = await menu.get(cmd.id);
  if (pizza === undefined) return notFound('MenuPizza', cmd.id);
  pizza.retire();
  if (pizza.pendingEvents.length > 0) await menu.update(pizza);
  return noContent();
});
