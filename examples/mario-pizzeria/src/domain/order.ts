import { AggregateRoot } from '@myelin/core';
import { EmptyOrderError, OrderStatusError, WrongDriverError } from './domainErrors.ts';
import { Money } from './money.ts';
import {
  CookingStarted,
  DeliveryStarted,
  DriverAssigned,
  OrderCancelled,
  OrderDelivered,
  type OrderEvent,
  OrderPlaced,
  OrderReady,
} from './orderEvents.ts';
import type { OrderItem, OrderItemData } from './orderItem.ts';

/** Where an order is in its life. `new` is only the blank an order is rebuilt from, before its first event. */
export const orderStatuses = [
  'confirmed',
  'cooking',
  'ready',
  'delivering',
  'delivered',
  'cancelled',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];

/** Who ordered, as given with this order. */
export interface CustomerDetails {
  readonly customerId: string;
  readonly name: string;
  readonly phone: string;
  readonly address?: string | undefined;
  readonly email?: string | undefined;
}

/** Who may read an order's personal data besides staff (see `order.placed.v1`). */
export interface OrderAccess {
  readonly placedBy?: string | undefined;
  readonly accessKeyHash?: string | undefined;
}

export interface OrderState {
  readonly status: OrderStatus | 'new';
  readonly customer: CustomerDetails;
  readonly access: OrderAccess;
  readonly items: readonly OrderItemData[];
  readonly totalCents: number;
  readonly notes?: string | undefined;
  readonly placedAt: string;
  readonly cookingStartedAt?: string;
  readonly chef?: string;
  readonly readyAt?: string;
  /** The driver assigned by a manager, or the one who took the order out. */
  readonly driverId?: string;
  readonly deliveryStartedAt?: string;
  readonly deliveredAt?: string;
  readonly cancelledAt?: string;
  readonly cancelledBy?: string;
  readonly cancelReason?: string;
}

/**
 * An order, event-sourced: its state is what its events say, and each step of its life is a method that checks
 * the state machine and raises the event.
 *
 *   confirmed ─► cooking ─► ready ─(driver assigned)─► delivering ─► delivered
 *       └──────────┴──────────┴──────────────────────────┴─► cancelled
 *
 * A placed order with at least one pizza is confirmed at once. Times come in as arguments, so that the
 * aggregate stays deterministic (tests pass a fixed clock; rebuilding from events never asks the clock).
 */
export class Order extends AggregateRoot<OrderState, OrderEvent> {
  constructor(id: string) {
    super(id, {
      status: 'new',
      customer: { customerId: '', name: '', phone: '' },
      access: {},
      items: [],
      totalCents: 0,
      placedAt: '',
    });
  }

  static place(
    id: string,
    customer: CustomerDetails,
    items: readonly OrderItem[],
    notes: string | undefined,
    at: Date,
    access: OrderAccess = {},
  ): Order {
    if (items.length === 0) throw new EmptyOrderError();
    const order = new Order(id);
    order.raise(
      new OrderPlaced({
        orderId: id,
        customerId: customer.customerId,
        customerName: customer.name,
        customerPhone: customer.phone,
        ...(customer.address === undefined ? {} : { customerAddress: customer.address }),
        ...(customer.email === undefined ? {} : { customerEmail: customer.email }),
        items: items.map((item) => ({ ...item.props, toppings: [...item.props.toppings] })),
        totalCents: Money.sum(items.map((item) => item.price)).cents,
        ...(notes === undefined ? {} : { notes }),
        placedAt: at.toISOString(),
        ...(access.placedBy === undefined ? {} : { placedBy: access.placedBy }),
        ...(access.accessKeyHash === undefined ? {} : { accessKeyHash: access.accessKeyHash }),
      }),
    );
    return order;
  }

  get status(): OrderStatus | 'new' {
    return this.state.status;
  }

  startCooking(chef: string, at: Date): void {
    this.#require('confirmed', 'start cooking');
    this.raise(new CookingStarted({ orderId: this.id, chef, at: at.toISOString() }));
  }

  markReady(at: Date): void {
    this.#require('cooking', 'be marked ready');
    this.raise(new OrderReady({ orderId: this.id, at: at.toISOString() }));
  }

  /** A ready order may be (re)assigned until a driver takes it out. */
  assignDriver(driverId: string, assignedBy: string, at: Date): void {
    this.#require('ready', 'be assigned a driver');
    this.raise(new DriverAssigned({ orderId: this.id, driverId, assignedBy, at: at.toISOString() }));
  }

  /** Any driver may take a ready order out, unless a manager assigned it to another. */
  startDelivery(driverId: string, at: Date): void {
    this.#require('ready', 'start delivery');
    const assigned = this.state.driverId;
    if (assigned !== undefined && assigned !== driverId) throw new WrongDriverError(this.id, assigned);
    this.raise(new DeliveryStarted({ orderId: this.id, driverId, at: at.toISOString() }));
  }

  /** Only the driver carrying the order can hand it over. */
  markDelivered(driverId: string, at: Date): void {
    this.#require('delivering', 'be marked delivered');
    const carrying = this.state.driverId ?? '';
    if (carrying !== driverId) throw new WrongDriverError(this.id, carrying);
    this.raise(new OrderDelivered({ orderId: this.id, driverId, at: at.toISOString() }));
  }

  cancel(cancelledBy: string, at: Date, reason?: string): void {
    const status = this.state.status;
    if (status === 'new' || status === 'delivered' || status === 'cancelled') {
      throw new OrderStatusError(this.id, status, 'be cancelled');
    }
    this.raise(
      new OrderCancelled({
        orderId: this.id,
        cancelledBy,
        previousStatus: status,
        at: at.toISOString(),
        ...(reason === undefined ? {} : { reason }),
      }),
    );
  }

  #require(status: OrderStatus, action: string): void {
    if (this.state.status !== status) throw new OrderStatusError(this.id, this.state.status, action);
  }

  protected override apply(state: OrderState, event: OrderEvent): OrderState {
    if (event instanceof OrderPlaced) {
      return {
        status: 'confirmed',
        customer: {
          customerId: event.customerId,
          name: event.customerName,
          phone: event.customerPhone,
          address: event.customerAddress,
          email: event.customerEmail,
        },
        access: { placedBy: event.placedBy, accessKeyHash: event.accessKeyHash },
        items: event.items,
        totalCents: event.totalCents,
        notes: event.notes,
        placedAt: event.placedAt,
      };
    }
    if (event instanceof CookingStarted)
      return { ...state, status: 'cooking', chef: event.chef, cookingStartedAt: event.at };
    if (event instanceof OrderReady) return { ...state, status: 'ready', readyAt: event.at };
    if (event instanceof DriverAssigned) return { ...state, driverId: event.driverId };
    if (event instanceof DeliveryStarted)
      return { ...state, status: 'delivering', driverId: event.driverId, deliveryStartedAt: event.at };
    if (event instanceof OrderDelivered) return { ...state, status: 'delivered', deliveredAt: event.at };
    if (event instanceof OrderCancelled) {
      return {
        ...state,
        status: 'cancelled',
        cancelledAt: event.at,
        cancelledBy: event.cancelledBy,
        ...(event.reason === undefined ? {} : { cancelReason: event.reason }),
      };
    }
    return state;
  }
}
