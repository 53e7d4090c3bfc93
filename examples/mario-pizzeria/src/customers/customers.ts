// Customers: erasing one at their request. Their profile is kept by ordering (orders/placeOrder.ts) and their
// deliveries counted by delivery/countDeliveries.ts; this list registers what a manager does with them.
import type { Module } from '@myelin/core';
import { eraseCustomer } from './eraseCustomer.ts';

export const customers: Module = (app) => app.include(eraseCustomer);
