import { badRequest, conflict, type Failure, forbidden } from '@myelin/core';
import {
  DomainError,
  InvalidPriceError,
  OrderStatusError,
  WrongDriverError,
} from '../domain/domainErrors.ts';

/**
 * Runs a change on an aggregate and turns the domain's refusals into problems: a forbidden transition is a 409
 * naming the order's status, another driver's order a 403, an empty order or a free pizza a 400 (the free pizza's
 * naming the price field). Only DomainErrors are caught: any other exception is a bug, and goes on to be logged
 * and answered with a 500.
 */
export function attempt<T>(change: () => T): { readonly ok: true; readonly value: T } | Failure {
  try {
    return { ok: true, value: change() };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return problemOf(error);
  }
}

export function problemOf(error: DomainError): Failure {
  if (error instanceof OrderStatusError) {
    // `currentStatus`, not `status`: that member is the HTTP status, and extensions never replace it.
    return conflict(error.message, { extensions: { currentStatus: error.status } });
  }
  if (error instanceof WrongDriverError) return forbidden(error.message);
  // The menu's schema refuses a free pizza first; should one get past it, the 400 still names the field, as every
  // validation error does.
  if (error instanceof InvalidPriceError) {
    return badRequest(error.message, [{ field: 'basePrice', pointer: '#/basePrice', detail: error.message }]);
  }
  // The rest (an empty order) are requests that break a rule of the domain.
  return badRequest(error.message);
}
