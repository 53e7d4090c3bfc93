import { describe, expect, it } from 'vitest';
import { Money } from './money.ts';
import { OrderItem } from './orderItem.ts';

const margherita = Money.fromDollars(12.99);
const pepperoni = Money.fromDollars(14.99);
const supreme = Money.fromDollars(17.99);

describe('OrderItem prices', () => {
  it('prices by size: small ×0.8, medium ×1.0, large ×1.6 of the base price, rounded half-up to the cent', () => {
    expect(OrderItem.price('Margherita', 'small', [], margherita).price.cents).toBe(1039); // 10.392
    expect(OrderItem.price('Margherita', 'medium', [], margherita).price.cents).toBe(1299);
    expect(OrderItem.price('Margherita', 'large', [], margherita).price.cents).toBe(2078); // 20.784
    expect(OrderItem.price('Pepperoni', 'small', [], pepperoni).price.cents).toBe(1199); // 11.992
    expect(OrderItem.price('Pepperoni', 'large', [], pepperoni).price.cents).toBe(2398); // 23.984
    expect(OrderItem.price('Supreme', 'small', [], supreme).price.cents).toBe(1439); // 14.392
    expect(OrderItem.price('Supreme', 'large', [], supreme).price.cents).toBe(2878); // 28.784
  });

  it('adds 20% of the base price per topping, and rounds the item once, not each part', () => {
    // 12.99 × (1.0 + 0.2): 15.588 → 15.59
    expect(OrderItem.price('Margherita', 'medium', ['basil'], margherita).price.cents).toBe(1559);
    // 12.99 × (1.6 + 0.4): 25.98
    expect(OrderItem.price('Margherita', 'large', ['basil', 'olives'], margherita).price.cents).toBe(2598);
    // 17.99 × (0.8 + 0.6): 25.186 → 25.19 (rounding 14.39 and 3 × 3.60 apart would give 25.19 too, by luck)
    expect(OrderItem.price('Supreme', 'small', ['ham', 'olives', 'onions'], supreme).price.cents).toBe(2519);
    // Fractions of a cent below a half go down, above go up. (Every factor is an even number of tenths, so an
    // item's price never falls exactly on a half cent: Money's half-up rule is tested in money.spec.ts.)
    expect(OrderItem.price('x', 'small', [], Money.ofCents(13)).price.cents).toBe(10); // 10.4
    expect(OrderItem.price('x', 'small', [], Money.ofCents(12)).price.cents).toBe(10); // 9.6
    expect(OrderItem.price('x', 'medium', ['ham'], Money.ofCents(14)).price.cents).toBe(17); // 16.8
    expect(OrderItem.price('x', 'large', ['ham'], Money.ofCents(11)).price.cents).toBe(20); // 19.8
    expect(OrderItem.price('x', 'small', [], Money.ofCents(1)).price.cents).toBe(1); // 0.8
  });

  it('is a value: equal when pizza, size, toppings and price are', () => {
    const a = OrderItem.price('Margherita', 'large', ['basil'], margherita);
    expect(a.equals(OrderItem.price('Margherita', 'large', ['basil'], margherita))).toBe(true);
    expect(a.equals(OrderItem.price('Margherita', 'large', [], margherita))).toBe(false);
    expect(a.props).toEqual({ name: 'Margherita', size: 'large', toppings: ['basil'], priceCents: 2338 });
    expect(Object.isFrozen(a.props)).toBe(true);
  });
});
