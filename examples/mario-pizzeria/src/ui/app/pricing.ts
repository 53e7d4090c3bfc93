// Prices as the customer sees them while choosing, by the domain's own rule (`pizzaPrice`): the total shown
// before ordering is the total the order will have.
import { Money } from '../../domain/money.ts';
import { type PizzaSize, pizzaPrice, sizes } from '../../domain/orderItem.ts';

export { type PizzaSize, sizes };

/** One pizza's price in cents, from the menu's base price in dollars (as the API shows it). */
export function itemCents(basePriceDollars: number, size: PizzaSize, toppingCount: number): number {
  return pizzaPrice(Money.fromDollars(basePriceDollars), size, toppingCount).cents;
}

/** The total of the cart in cents. */
export const totalCents = (items: readonly { readonly cents: number }[]): number =>
  items.reduce((sum, item) => sum + item.cents, 0);
