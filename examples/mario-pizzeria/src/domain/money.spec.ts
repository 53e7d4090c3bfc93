import { describe, expect, it } from 'vitest';
import { dollars, Money } from './money.ts';

describe('Money', () => {
  it('reads dollars as cents, rounding half-up, without binary floating-point drift', () => {
    expect(Money.fromDollars(12.99).cents).toBe(1299);
    expect(Money.fromDollars(0.1 + 0.2).cents).toBe(30);
    expect(Money.fromDollars(1.005).cents).toBe(101); // 1.005 * 100 is 100.49999999999999 in floating point
    expect(Money.fromDollars(1.004).cents).toBe(100);
    expect(Money.fromDollars(2.675).cents).toBe(268);
    expect(Money.fromDollars(0).cents).toBe(0);
    expect(Money.fromDollars(-1.005).cents).toBe(-101);
  });

  it('multiplies by a ratio in integers, rounding half-up once', () => {
    const base = Money.ofCents(1299);
    expect(base.times(8, 10).cents).toBe(1039); // 1039.2
    expect(base.times(16, 10).cents).toBe(2078); // 2078.4
    expect(base.times(2, 10).cents).toBe(260); // 259.8
    expect(Money.ofCents(5).times(1, 2).cents).toBe(3); // 2.5: a tie goes up
    expect(Money.ofCents(15).times(1, 10).cents).toBe(2); // 1.5
    expect(Money.ofCents(14).times(1, 10).cents).toBe(1); // 1.4
    expect(Money.ofCents(1499).times(3).cents).toBe(4497);
  });

  it('adds and sums exactly, and shows dollars', () => {
    const total = Money.sum([Money.fromDollars(0.1), Money.fromDollars(0.2), Money.fromDollars(12.99)]);
    expect(total.cents).toBe(1329);
    expect(total.toDollars()).toBe(13.29);
    expect(Money.sum([]).equals(Money.zero)).toBe(true);
    expect(dollars(2338)).toBe(23.38);
  });

  it('refuses what is not a whole number of cents, or not a ratio of integers', () => {
    expect(() => Money.ofCents(1.5)).toThrow(RangeError);
    expect(() => Money.fromDollars(Number.NaN)).toThrow(RangeError);
    expect(() => Money.ofCents(100).times(0.8)).toThrow(RangeError);
    expect(() => Money.ofCents(100).times(1, 0)).toThrow(RangeError);
  });
});
