// Orders: placing one, reading it back, the staff's list, and cancelling. Each use case is a file; this list
// registers them.
import type { Module } from '@myelin/core';
import { cancelOrder } from './cancelOrder.ts';
import { getOrder } from './getOrder.ts';
import { listOrders } from './listOrders.ts';
import { placeOrder } from './placeOrder.ts';

export const orders: Module = (app) => app.include(placeOrder, getOrder, listOrders, cancelOrder);
