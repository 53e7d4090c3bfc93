import { AggregateRoot, event } from '@myelin/core';
import * as z from 'zod';

// A customer's details are theirs: sealed in the log under their own key, and placeholders once they are erased.
export const CustomerRegistered = event(
  'customer.registered.v1',
  z.object({
    customerId: z.string(),
    name: z.string(),
    phone: z.string(),
    address: z.string().optional(),
    email: z.string().optional(),
  }),
  { personal: { subject: 'customerId', fields: ['name', 'phone', 'address', 'email'] } },
);
export const CustomerDetailsChanged = event(
  'customer.details.changed.v1',
  z.object({
    customerId: z.string(),
    name: z.string(),
    address: z.string().optional(),
    email: z.string().optional(),
  }),
  { personal: { subject: 'customerId', fields: ['name', 'address', 'email'] } },
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

const signedIn = 'customer-';

/**
 * A customer is who signed in: their id comes from their token's subject, never from what they type (anyone can
 * type anyone's phone number). Two first orders at the same moment collide on the id (one commit wins, the other
 * retries and finds the customer) instead of creating the customer twice.
 */
export function customerIdFor(subject: string): string {
  return `${signedIn}${subject}`;
}

/** The token subject of a signed-in customer's id; undefined for a guest's. */
export function subjectOf(customerId: string): string | undefined {
  return customerId.startsWith(signedIn) ? customerId.slice(signedIn.length) : undefined;
}

/**
 * Whose an order placed without signing in is: no stored customer, so a subject of the order's own. Its personal
 * data is sealed under a key of its own, and erasing it reaches that order alone (one id for every guest would be
 * one key: erasing one guest would erase them all).
 */
export function guestIdFor(orderId: string): string {
  return `guest-${orderId}`;
}

/** The details a customer gives with an order. */
export interface ContactDetails {
  readonly name: string;
  readonly phone: string;
  readonly address?: string | undefined;
  readonly email?: string | undefined;
}

/**
 * A signed-in customer, state-stored: a document with the details they last gave, which only they change (by
 * ordering) and only they and staff read.
 */
export class Customer extends AggregateRoot<CustomerState, CustomerEvent> {
  constructor(id: string) {
    super(id, { name: '', phone: '', deliveredOrders: 0 });
  }

  static register(id: string, details: ContactDetails): Customer {
    const customer = new Customer(id);
    customer.raise(
      new CustomerRegistered({
        customerId: customer.id,
        name: details.name,
        phone: details.phone.trim(),
        ...(details.address === undefined ? {} : { address: details.address }),
        ...(details.email === undefined ? {} : { email: details.email }),
      }),
    );
    return customer;
  }

  /** Takes the details given with a new order; what they left out keeps its known value. */
  updateDetails(details: ContactDetails): void {
    const next = {
      name: details.name,
      address: details.address ?? this.state.address,
      email: details.email ?? this.state.email,
    };
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
