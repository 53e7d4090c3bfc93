// Who may read an order's personal data (name, phone, address, e-mail): staff, and the order's own customer.
// Everyone else is told the order does not exist (404), which says nothing about the orders that do.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '@myelin/core';
import type { OrderAccess } from '../domain/order.ts';
import { roles } from '../shared/roles.ts';

const staff: readonly string[] = [roles.chef, roles.driver, roles.manager];

/** A key for whoever places an order without signing in: 128 random bits, shown once in the 201. */
export function newAccessKey(): { readonly key: string; readonly hash: string } {
  const key = randomBytes(16).toString('base64url');
  return { key, hash: hashAccessKey(key) };
}

/** What the pizzeria keeps of a key: its SHA-256, so a copy of the database reads no order with it. */
export function hashAccessKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

/**
 * Whether this caller may read this order: a member of staff; the signed-in customer who placed it; or whoever
 * presents the key its 201 gave (compared in constant time).
 */
export function canReadOrder(
  order: OrderAccess,
  principal: Principal | undefined,
  key: string | undefined,
): boolean {
  if (principal?.roles.some((role) => staff.includes(role))) return true;
  if (principal !== undefined && order.placedBy !== undefined && order.placedBy === principal.subject)
    return true;
  if (key === undefined || order.accessKeyHash === undefined) return false;
  const given = Buffer.from(hashAccessKey(key));
  const kept = Buffer.from(order.accessKeyHash);
  return given.length === kept.length && timingSafeEqual(given, kept);
}
