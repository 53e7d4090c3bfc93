import { AggregateRoot, event } from '@myelin/core';
import * as z from 'zod';
import { InvalidPriceError } from './domainErrors.ts';
import { Money } from './money.ts';

const details = {
  pizzaId: z.string(),
  name: z.string(),
  description: z.string(),
  basePriceCents: z.number(),
};
export const PizzaAdded = event('menu.pizza.added.v1', z.object(details), {
  description: 'A pizza was put on the menu (or back on it)',
});
export const PizzaChanged = event('menu.pizza.changed.v1', z.object(details), {
  description: "A pizza's name, description or base price changed",
});
export const PizzaRetired = event('menu.pizza.retired.v1', z.object({ pizzaId: z.string() }), {
  description: 'A pizza was taken off the menu; orders already placed keep it',
});
type MenuEvent =
  | InstanceType<typeof PizzaAdded>
  | InstanceType<typeof PizzaChanged>
  | InstanceType<typeof PizzaRetired>;
export const menuEvents = [PizzaAdded, PizzaChanged, PizzaRetired] as const;

export interface MenuPizzaState {
  readonly name: string;
  /** The name as orders match it: trimmed, single-spaced, lower-case ("Quattro  Formaggi" → "quattro formaggi"). */
  readonly key: string;
  readonly description: string;
  /** The price of a medium pizza without toppings; sizes and toppings are priced from it. */
  readonly basePriceCents: number;
  readonly available: boolean;
}

/** How orders and managers name a pizza, whatever its case and spacing. */
export function menuKey(name: string): string {
  return name.trim().replaceAll(/\s+/g, ' ').toLowerCase();
}

/** A pizza's id on the menu: its key as a URL-friendly slug ("quattro formaggi" → "quattro-formaggi"). */
export function menuSlug(name: string): string {
  return (
    menuKey(name)
      .normalize('NFKD')
      .replaceAll(/\p{M}/gu, '') // accents come apart under NFKD: keep the letter, drop the mark
      .replaceAll(/[^a-z0-9]+/g, '-')
      .replaceAll(/^-|-$/g, '') || 'pizza'
  );
}

/** A pizza on the menu, state-stored: managers add, change and retire it; orders are priced from it. */
export class MenuPizza extends AggregateRoot<MenuPizzaState, MenuEvent> {
  constructor(id: string) {
    super(id, { name: '', key: '', description: '', basePriceCents: 0, available: false });
  }

  static add(id: string, name: string, description: string, basePrice: Money): MenuPizza {
    const pizza = new MenuPizza(id);
    pizza.#offer(name, description, basePrice);
    return pizza;
  }

  get basePrice(): Money {
    return Money.ofCents(this.state.basePriceCents);
  }

  /** Puts a retired pizza back on the menu, with the details given. */
  offerAgain(name: string, description: string, basePrice: Money): void {
    this.#offer(name, description, basePrice);
  }

  change(changes: { name?: string; description?: string; basePrice?: Money }): void {
    const name = changes.name?.trim() ?? this.state.name;
    const description = changes.description ?? this.state.description;
    const basePriceCents = changes.basePrice?.cents ?? this.state.basePriceCents;
    checkPrice(basePriceCents);
    const { state } = this;
    if (name === state.name && description === state.description && basePriceCents === state.basePriceCents)
      return;
    this.raise(new PizzaChanged({ pizzaId: this.id, name, description, basePriceCents }));
  }

  /** Takes it off the menu; retiring a retired pizza changes nothing. */
  retire(): void {
    if (this.state.available) this.raise(new PizzaRetired({ pizzaId: this.id }));
  }

  #offer(name: string, description: string, basePrice: Money): void {
    checkPrice(basePrice.cents);
    this.raise(
      new PizzaAdded({ pizzaId: this.id, name: name.trim(), description, basePriceCents: basePrice.cents }),
    );
  }

  protected override apply(state: MenuPizzaState, event: MenuEvent): MenuPizzaState {
    if (event instanceof PizzaRetired) return { ...state, available: false };
    if (event instanceof PizzaAdded || event instanceof PizzaChanged) {
      const { name, description, basePriceCents } = event;
      const available = event instanceof PizzaAdded ? true : state.available;
      return { name, key: menuKey(name), description, basePriceCents, available };
    }
    return state;
  }
}

function checkPrice(cents: number): void {
  if (cents <= 0) throw new InvalidPriceError(cents);
}
