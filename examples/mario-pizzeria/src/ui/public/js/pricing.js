// The price of a pizza, by the server's rule, so the customer sees the total before ordering:
// base × size factor (small 0.8, medium 1.0, large 1.6) + 20% of the base per topping, rounded half-up to cents.

/** Size factors in tenths, so that the arithmetic stays in integers. */
const sizeTenths = { small: 8, medium: 10, large: 16 };
const toppingTenths = 2;

export const sizes = /** @type {const} */ (['small', 'medium', 'large']);

/** The menu's base price (dollars, like 12.99) in integer cents. */
export const toCents = (dollars) => Math.round(dollars * 100);

/**
 * One pizza's price in cents.
 * @param {number} basePriceDollars
 * @param {'small'|'medium'|'large'} size
 * @param {number} toppingCount
 */
export function itemCents(basePriceDollars, size, toppingCount) {
  const tenths = sizeTenths[size] + toppingTenths * toppingCount;
  // base (cents) × tenths / 10, rounded half-up: all in integers, no floating-point surprise at .5
  return Math.floor((toCents(basePriceDollars) * tenths + 5) / 10);
}

/** The total of the cart in cents. */
export const totalCents = (items) => items.reduce((sum, item) => sum + item.cents, 0);
