/**
 * A rule of the domain said no. Aggregates throw these (a method cannot return a result and raise events at once);
 * the application turns each kind into its problem (409, 403, 400). Anything else thrown is a bug, and travels on
 * to become a 500.
 */
export abstract class DomainError extends Error {}

/** The order's status does not allow this step: a 409 that names the status it is in. */
export class OrderStatusError extends DomainError {
  readonly orderId: string;
  readonly status: string;
  readonly action: string;
  constructor(orderId: string, status: string, action: string) {
    super(`Order ${orderId} is ${status}, so it cannot ${action}`);
    this.name = 'OrderStatusError';
    this.orderId = orderId;
    this.status = status;
    this.action = action;
  }
}

/** An order needs at least one pizza: a 400. */
export class EmptyOrderError extends DomainError {
  constructor() {
    super('Order must contain at least one pizza');
    this.name = 'EmptyOrderError';
  }
}

/** Another driver is taking (or has) the order: a 403. */
export class WrongDriverError extends DomainError {
  constructor(orderId: string, driverId: string) {
    super(`Order ${orderId} is for driver ${driverId}`);
    this.name = 'WrongDriverError';
  }
}

/** A pizza must cost something: a 400. */
export class InvalidPriceError extends DomainError {
  constructor(cents: number) {
    super(`A pizza costs more than nothing; ${cents} cents is not a price`);
    this.name = 'InvalidPriceError';
  }
}
