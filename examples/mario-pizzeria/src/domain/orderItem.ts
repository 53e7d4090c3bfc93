import { ValueObject } from '@myelin/core';
import { Money } from './money.ts';

/** The sizes a pizza comes in, and what each costs relative to the menu's (medium) base price, in tenths. */
export const sizes = ['small', 'medium', 'large'] as const;
export type PizzaSize = (typeof sizes)[number];
const sizeTenths: Readonly<Record<PizzaSize, number>> = { small: 8, medium: 10, large: 16 };

/** The toppings the kitchen has; each adds a fifth (two tenths) of the pizza's base price. */
export const toppings = [
  'extra cheese',
  'mushrooms',
  'olives',
  'onions',
  'peppers',
  'basil',
  'ham',
  'pineapple',
] as const;
export type Topping = (typeof toppings)[number];
const toppingTenths = 2;

/**
 * The price of a pizza: its base price × its size's factor + 20% of the base per topping, rounded half-up once.
 * The one statement of the rule: orders are priced by it, and the browser shows prices with it.
 */
export function pizzaPrice(basePrice: Money, size: PizzaSize, toppingCount: number): Money {
  return basePrice.times(sizeTenths[size] + toppingTenths * toppingCount, 10);
}

/** One pizza of an order, as plain data (what events and read models carry). */
export interface OrderItemData {
  readonly name: string;
  readonly size: PizzaSize;
  readonly toppings: readonly string[];
  readonly priceCents: number;
}

/**
 * One pizza of an order: which, what size, which toppings, and its price, fixed when the order is placed (a later
 * change of the menu does not reprice orders already taken). A value: two items with the same attributes are equal.
 */
export class OrderItem extends ValueObject<OrderItemData> {
  /** Prices a pizza from its base price: base × size factor + 20% of base per topping, rounded half-up once. */
  static price(name: string, size: PizzaSize, chosen: readonly string[], basePrice: Money): OrderItem {
    const price = pizzaPrice(basePrice, size, chosen.length);
    return new OrderItem({ name, size, toppings: [...chosen], priceCents: price.cents });
  }

  get price(): Money {
    return Money.ofCents(this.props.priceCents);
  }
}
