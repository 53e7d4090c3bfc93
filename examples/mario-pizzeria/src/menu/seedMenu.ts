import { handler, type Module, ok } from '@myelin/core';
import { MenuPizza, menuKey, menuSlug } from '../domain/menuPizza.ts';
import { Money } from '../domain/money.ts';
import { MenuPizzas } from '../shared/repositories.ts';
import { roles } from '../shared/roles.ts';
import { SeedMenu } from './contract.ts';

/** The menu a new pizzeria opens with (the seed's three pizzas, at the seed's prices, and a few more). */
export const defaultMenu = [
  { name: 'Margherita', basePrice: 12.99, description: 'Tomato, mozzarella and fresh basil' },
  { name: 'Pepperoni', basePrice: 14.99, description: 'Tomato, mozzarella and spicy pepperoni' },
  {
    name: 'Supreme',
    basePrice: 17.99,
    description: 'Pepperoni, sausage, peppers, onions, olives, mushrooms',
  },
  { name: 'Quattro Formaggi', basePrice: 16.49, description: 'Mozzarella, gorgonzola, fontina and parmesan' },
  { name: 'Diavola', basePrice: 15.49, description: 'Tomato, mozzarella, hot salami and chili' },
  { name: 'Veggie', basePrice: 14.49, description: 'Tomato, mozzarella, peppers, mushrooms, onions, olives' },
] as const;

/**
 * Adds each pizza of the default menu that the menu has never had (by id or by name), so running it at every
 * start is harmless, and a pizza a manager retired or renamed stays as they left it. Two processes starting
 * at once race to add the same ids: one commit wins, the other's conflict re-runs this and finds nothing to add.
 */
export const seedMenu: Module = (app) =>
  app
    // Only the process itself, at start-up; no route sends it.
    .authorize(SeedMenu, { roles: [roles.system] })
    .handle(
      handler(SeedMenu, { menu: MenuPizzas }, async (_cmd, { menu }) => {
        const added: string[] = [];
        for (const pizza of defaultMenu) {
          const id = menuSlug(pizza.name);
          if ((await menu.get(id)) !== undefined) continue;
          if ((await menu.find({ where: { key: menuKey(pizza.name) }, pageSize: 1 })).total > 0) continue;
          await menu.add(
            MenuPizza.add(id, pizza.name, pizza.description, Money.fromDollars(pizza.basePrice)),
          );
          added.push(id);
        }
        return ok({ added });
      }),
    );
