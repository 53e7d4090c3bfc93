// What the browser remembers on this device: the customer's recent orders, their cart and their details.

const recentKey = 'mario.recentOrders';
const cartKey = 'mario.cart';
const detailsKey = 'mario.customer';
const keepOrders = 12;

function read(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key) ?? 'null') ?? fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // private mode or a full quota: the UI still works, it only forgets
  }
}

/**
 * @typedef {{ id: string, placedAt: string, total: number, summary: string, key?: string }} RecentOrder
 * `key` is what reads back an order placed without signing in: its 201 gave it, nothing else can.
 * @returns {RecentOrder[]} newest first
 */
export const recentOrders = () => read(recentKey, []);

/** Remembers an order the customer placed, so they can come back to it. */
export function rememberOrder(order) {
  const counts = new Map();
  for (const item of order.items) counts.set(item.name, (counts.get(item.name) ?? 0) + 1);
  const summary = [...counts].map(([name, count]) => (count > 1 ? `${count} × ${name}` : name)).join(', ');
  const key = order.accessKey ?? orderKey(order.id);
  const entry = {
    id: order.id,
    placedAt: order.placedAt,
    total: order.total,
    summary,
    ...(key ? { key } : {}),
  };
  write(recentKey, [entry, ...recentOrders().filter((o) => o.id !== order.id)].slice(0, keepOrders));
}

/** The key of an order this device placed without signing in, if it has one. */
export const orderKey = (id) => recentOrders().find((o) => o.id === id)?.key;

export function forgetOrder(id) {
  write(
    recentKey,
    recentOrders().filter((o) => o.id !== id),
  );
}

/**
 * @typedef {{ key: string, name: string, size: 'small'|'medium'|'large', toppings: string[], cents: number }} CartItem
 * @returns {CartItem[]}
 */
export const cart = () => read(cartKey, []);
/** @param {CartItem[]} items */
export const saveCart = (items) => write(cartKey, items);

/** @returns {{customerName?: string, customerPhone?: string, customerAddress?: string, customerEmail?: string}} */
export const customerDetails = () => read(detailsKey, {});
export const saveCustomerDetails = (details) => write(detailsKey, details);
