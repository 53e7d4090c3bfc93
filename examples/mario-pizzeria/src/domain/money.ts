/**
 * An amount of money in integer cents. Prices are multiplied by fractions (a size factor, 20% per topping), and
 * floating-point dollars would drift (0.1 + 0.2); whole cents and one rounding rule keep every total exact.
 * The rule is half-up: a result exactly halfway between two cents goes to the larger one.
 */
export class Money {
  readonly cents: number;

  private constructor(cents: number) {
    if (!Number.isSafeInteger(cents)) throw new RangeError(`Money is a whole number of cents, not ${cents}`);
    this.cents = cents;
  }

  static readonly zero = new Money(0);

  static ofCents(cents: number): Money {
    return new Money(cents);
  }

  /**
   * Dollars as people write them (12.99) to cents, rounded half-up. Through the decimal text rather than
   * `dollars * 100`, because 1.005 * 100 is 100.49999999999999 in binary floating point.
   */
  static fromDollars(dollars: number): Money {
    if (!Number.isFinite(dollars)) throw new RangeError(`Not an amount of dollars: ${dollars}`);
    const hundredfold = Number(`${Math.abs(dollars)}e2`);
    return new Money(Math.sign(dollars) * Math.floor(hundredfold + 0.5) || 0);
  }

  /** This amount times `numerator / denominator`, rounded half-up to the cent (in integers: no drift). */
  times(numerator: number, denominator = 1): Money {
    if (!Number.isSafeInteger(numerator) || !Number.isSafeInteger(denominator) || denominator <= 0) {
      throw new RangeError(`Multiply money by a ratio of integers, not ${numerator}/${denominator}`);
    }
    return new Money(roundHalfUp(this.cents * numerator, denominator));
  }

  plus(other: Money): Money {
    return new Money(this.cents + other.cents);
  }

  /** The amount in dollars, as the API shows it (12.99). */
  toDollars(): number {
    return this.cents / 100;
  }

  equals(other: Money): boolean {
    return this.cents === other.cents;
  }

  static sum(amounts: Iterable<Money>): Money {
    let total = Money.zero;
    for (const amount of amounts) total = total.plus(amount);
    return total;
  }
}

/** `dividend / divisor` rounded half-up (ties away from zero), in integer arithmetic. */
function roundHalfUp(dividend: number, divisor: number): number {
  const sign = dividend < 0 ? -1 : 1;
  const magnitude = Math.abs(dividend);
  return sign * Math.floor((2 * magnitude + divisor) / (2 * divisor)) || 0;
}

/** Cents as dollars for the API, where amounts are numbers of dollars. */
export function dollars(cents: number): number {
  return Money.ofCents(cents).toDollars();
}
