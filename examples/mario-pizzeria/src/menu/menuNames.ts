// How the menu's commands find pizzas by name: whatever its case and spacing, a name is one pizza's.
import type { QueryableRepository } from '@myelin/core';
import { type MenuPizza, menuKey, menuSlug } from '../domain/menuPizza.ts';

export type MenuRepository = QueryableRepository<MenuPizza>;

/** The pizza whose name reads the same as `pizzaName` (whatever its case and spacing), if any. */
export async function named(menu: MenuRepository, pizzaName: string): Promise<MenuPizza | undefined> {
  return (await menu.find({ where: { key: menuKey(pizzaName) } })).items[0];
}

/** A free id from the name: its slug, or the slug and a number when a renamed pizza holds the slug already. */
export async function freeId(menu: MenuRepository, pizzaName: string): Promise<string> {
  const slug = menuSlug(pizzaName);
  for (let n = 1; ; n++) {
    const id = n === 1 ? slug : `${slug}-${n}`;
    if (!(await menu.exists(id))) return id;
  }
}
