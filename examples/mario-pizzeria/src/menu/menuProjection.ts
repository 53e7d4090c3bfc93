import { documents, projection } from '@myelin/core';
import { PizzaAdded, PizzaChanged, PizzaRetired } from '../domain/menuPizza.ts';

/** A pizza as the menu shows it. */
export interface MenuEntry {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly basePriceCents: number;
  readonly available: boolean;
}

/** The menu, by pizza id: what `GET /api/menu` reads (queries never read the MenuPizza aggregates). */
export const Menu = documents<MenuEntry>('menu');

/** Inline, so that a manager's change shows on the next read of the menu. */
export const menu = projection(Menu, { mode: 'inline' })
  .on(PizzaAdded, (e, docs) =>
    docs.put(e.pizzaId, {
      id: e.pizzaId,
      name: e.name,
      description: e.description,
      basePriceCents: e.basePriceCents,
      available: true,
    }),
  )
  .on(PizzaChanged, async (e, docs) => {
    await docs.update(e.pizzaId, (entry) => ({
      ...entry,
      name: e.name,
      description: e.description,
      basePriceCents: e.basePriceCents,
    }));
  })
  .on(PizzaRetired, async (e, docs) => {
    await docs.update(e.pizzaId, (entry) => ({ ...entry, available: false }));
  });
