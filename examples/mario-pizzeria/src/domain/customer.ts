import { AggregateRoot, event } from '@myelin/core';
import { z } from 'zod';

export const CustomerRegistered = event(
  'customer.registered.v1',
  z.object({
    customerId: z.string(),
    name: z.string(),
    phone: z.string(),
    address: z.string().optional(),
    email: z.string().optional(),
  }),
);
export const CustomerDetailsChanged = event(
  'customer.details.changed.v1',
  z.object({
    customerId: z.string(),
    name: z.string(),
    address: z.string().optional(),
    email: z.string().optional(),
  }),
);
export const DeliveryRecorded = event(
  'customer.delivery.recorded.v1',
  z.object({ customerId: z.string(), orderId: z.string() }),
);
type CustomerEvent =
  | InstanceType<typeof CustomerRegistered>
  | InstanceType<typeof CustomerDetailsChanged>
  | InstanceType<typeof DeliveryRecorded>;

export interface CustomerState {
  readonly name: string;
  readonly phone: string;
  readonly address?: string | undefined;
  readonly email?: string | undefined;
  /** How many of their orders reached them: kept by a reaction to `order.delivered.v1`. */
  readonly deliveredOrders: number;
  readonly lastDeliveredOrderId?: string;
}

/** A phone number reduced to what identifies it: its digits, and a leading `+`. */
export function normalizePhone(phone: string): string {
  const trimmed = phone.trim();
  return (trimmed.startsWith('+') ? '+' : '') + trimmed.replaceAll(/\D/g, '');
}

/**
 * A customer is known by their phone number, so their id comes from it: two first orders from one phone placed
 * at the same moment then collide on the id (one commit wins, the other retries and finds the customer) instead
 * of creating the customer twice.
 */
export function customerIdFor(phone: string): string {
  return `customer-${normalizePhone(phone).replace('+', 'p')}`;
}

/**
 * A customer, state-stored: a document with their latest details, found by phone when they order again (their
 * id comes from the phone number; the phone is kept as they wrote it).
 */
export class Customer extends AggregateRoot<CustomerState, CustomerEvent> {
  constructor(id: string) {
    super(id, { name: '', phone: '', deliveredOrders: 0 });
  }

  static register(phone: string, name: string, address?: string, email?: string): Customer {
    const customer = new Customer(customerIdFor(phone));
    customer.raise(
      new CustomerRegistered({
        customerId: customer.id,
        name,
        phone: phone.trim(),
        ...(address === undefined ? {} : { address }),
        ...(email === undefined ? {} : { email }),
      }),
    );
    return customer;
  }

  /** Takes the details given with a new order; what they left out keeps its known value. */
  updateDetails(name: string, address?: string, email?: string): void {
    const next = { name, address: address ?? this.state.address, email: email ?? this.state.email };
    const { state } = this;
    if (next.name === state.name && next.address === state.address && next.email === state.email) return;
    this.raise(
      new CustomerDetailsChanged({
        customerId: this.id,
        name: next.name,
        ...(next.address === undefined ? {} : { address: next.address }),
        ...(next.email === undefined ? {} : { email: next.email }),
      }),
    );
  }

  recordDelivery(orderId: string): void {
    if (this.state.lastDeliveredOrderId === orderId) return;
    this.raise(new DeliveryRecorded({ customerId: this.id, orderId }));
  }

  protected override apply(state: CustomerState, event: CustomerEvent): CustomerState {
    if (event instanceof CustomerRegistered) {
      return {
        name: event.name,
        phone: event.phone,
        address: event.address,
        email: event.email,
        deliveredOrders: 0,
      };
    }
    if (event instanceof CustomerDetailsChanged) {
      return { ...state, name: event.name, address: event.address, email: event.email };
    }
    if (event instanceof DeliveryRecorded) {
      return { ...state, deliveredOrders: state.deliveredOrders + 1, lastDeliveredOrderId: event.orderId };
    }
    return state;
  }
}
