// The customer's recent orders on this device, each with its current status.
import { call, client, ProblemError } from '../api.ts';
import { h } from '../dom.ts';
import { ago, money, shortId } from '../format.ts';
import { icon } from '../icons.ts';
import { emptyState, pageHeader, statusBadge } from '../parts.ts';
import { forgetOrder, recentOrders } from '../store.ts';

export function renderOrders(main: HTMLElement): (() => void) | undefined {
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
    return undefined;
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
    call(client.getOrder({ id: entry.id, ...(entry.key === undefined ? {} : { key: entry.key }) }))
      .then((order) => {
        if (alive) status.replaceWith(statusBadge(order.status));
      })
      .catch((error: unknown) => {
        if (!alive) return;
        if (error instanceof ProblemError && error.status === 404) {
          forgetOrder(entry.id);
          row.remove();
        } else status.textContent = '?';
      });
  }
  return () => {
    alive = false;
  };
}
