// The customer's recent orders on this device, each with its current status.
import { get } from '../api.js';
import { h } from '../dom.js';
import { ago, money, shortId } from '../format.js';
import { icon } from '../icons.js';
import { emptyState, pageHeader, statusBadge } from '../parts.js';
import { forgetOrder, recentOrders } from '../store.js';

/** @param {HTMLElement} main */
export function renderOrders(main) {
  document.title = "My orders · Mario's Pizzeria";
  const orders = recentOrders();
  main.append(
    pageHeader({
      eyebrow: 'Remembered on this device',
      title: 'My orders',
      lead: 'Your recent orders. Open one to follow it live.',
    }),
  );
  if (orders.length === 0) {
    main.append(
      h(
        'div',
        { class: 'card' },
        emptyState(
          'receipt',
          'No orders yet',
          'The oven is hot. Your orders will show up here once you have placed one.',
          h('a', { class: 'button button-primary', href: '#/menu' }, icon('pizza'), 'See the menu'),
        ),
      ),
    );
    return;
  }
  const list = h('ul', { class: 'order-list', testid: 'order-list' });
  main.append(list);
  let alive = true;
  for (const entry of orders) {
    const status = h('span', { class: 'badge badge-loading' }, '…');
    const row = h(
      'li',
      { class: 'card order-row', testid: 'order-row' },
      h(
        'a',
        { href: `#/orders/${entry.id}`, class: 'order-row-link' },
        h(
          'span',
          { class: 'order-row-main' },
          h('strong', {}, shortId(entry.id)),
          h('span', { class: 'muted' }, entry.summary),
        ),
        h(
          'span',
          { class: 'order-row-meta' },
          status,
          h('span', { class: 'muted' }, `${money(entry.total)} · ${ago(entry.placedAt)}`),
        ),
        icon('arrow', { class: 'order-row-arrow' }),
      ),
    );
    list.append(row);
    // One read each, to show where the order is now (the order's own page follows it live).
    // An order placed without signing in opens with the key its 201 gave.
    const access = entry.key === undefined ? '' : `?key=${encodeURIComponent(entry.key)}`;
    get(`/api/orders/${encodeURIComponent(entry.id)}${access}`)
      .then((order) => alive && status.replaceWith(statusBadge(order.status)))
      .catch((error) => {
        if (!alive) return;
        if (error.status === 404) {
          forgetOrder(entry.id);
          row.remove();
        } else status.textContent = '?';
      });
  }
  return () => {
    alive = false;
  };
}
