// A board of order tickets in columns by status, fed by a live stream and by the answers to our own commands
// (whichever is newer wins, by the order's version), so that a click shows its effect at once.
import { h, reconcile } from './dom.js';
import { ago, capitalize, groupItems, minutesBetween, shortId } from './format.js';
import { icon } from './icons.js';
import { emptyState } from './parts.js';

/**
 * @typedef {{ status: string, title: string, empty: string, icon: string }} Column
 * @param {{ columns: Column[], ticket: (order: any) => HTMLElement, testid: string, label: string }} options
 */
export function createBoard({ columns, ticket, testid, label }) {
  /** @type {Map<string, any>} the newest state we know of each order */
  const known = new Map();
  /** @type {any[]} */
  let snapshot = [];
  /** @type {Set<string> | undefined} */
  let seen;
  const lists = new Map();
  const counts = new Map();
  // Tells a screen reader what just arrived, without reading the whole board again.
  const announcer = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  const element = h(
    'div',
    { class: 'board', testid, 'aria-label': label, role: 'region' },
    announcer,
    columns.map((column) => {
      const list = h('div', { class: 'board-list', testid: `column-${column.status}` });
      const count = h('span', { class: 'board-count', 'aria-label': 'orders' }, '0');
      lists.set(column.status, list);
      counts.set(column.status, count);
      return h(
        'section',
        { class: ['board-column', `column-${column.status}`], 'aria-label': column.title },
        h(
          'h2',
          { class: 'board-title' },
          icon(/** @type {any} */ (column.icon)),
          h('span', {}, column.title),
          count,
        ),
        list,
      );
    }),
  );

  function remember(order) {
    const mine = known.get(order.id);
    if (mine === undefined || (order.version ?? 0) >= (mine.version ?? 0)) known.set(order.id, order);
    return known.get(order.id);
  }

  function render() {
    const orders = snapshot.map((order) => remember(order));
    const fresh =
      seen === undefined ? new Set() : new Set(orders.map((o) => o.id).filter((id) => !seen.has(id)));
    seen = new Set(orders.map((o) => o.id));
    if (fresh.size > 0) {
      announcer.textContent = orders
        .filter((o) => fresh.has(o.id))
        .map((o) => `New: ${shortId(o.id)} for ${o.customerName}`)
        .join('. ');
    }
    for (const column of columns) {
      const list = lists.get(column.status);
      const inColumn = orders.filter((order) => order.status === column.status);
      counts.get(column.status).textContent = String(inColumn.length);
      if (inColumn.length === 0) {
        if (list.querySelector('[data-testid="empty"]') === null) {
          list.replaceChildren(emptyState(/** @type {any} */ (column.icon), column.empty));
        }
        continue;
      }
      list.querySelector(':scope > .empty')?.remove();
      reconcile(
        list,
        inColumn,
        (order) => order.id,
        (order) => {
          const node = ticket(order);
          if (fresh.has(order.id)) node.classList.add('is-new');
          return node;
        },
        (order) => `${order.version}|${order.status}|${order.driverId ?? ''}`,
      );
    }
  }

  // The ages on the tickets move on with the clock (no request involved).
  const clock = setInterval(() => {
    for (const age of element.querySelectorAll('[data-since]')) age.textContent = waited(age.dataset.since);
  }, 30_000);

  return {
    element,
    /** A new state of the board, from the stream. */
    update(items) {
      snapshot = items;
      render();
    },
    /** One order as a command of ours returned it. */
    apply(order) {
      remember(order);
      render();
    },
    dispose: () => clearInterval(clock),
  };
}

export const waited = (since) => (minutesBetween(since) < 1 ? 'just now' : ago(since));

/** The head of a ticket: its number and how long it has waited. */
export function ticketHead(order, since = order.placedAt) {
  return h(
    'header',
    { class: 'ticket-head' },
    h('span', { class: 'ticket-number', testid: 'ticket-number' }, shortId(order.id)),
    h(
      'span',
      { class: 'ticket-age' },
      icon('clock', { size: 16 }),
      h('span', { dataset: { since } }, waited(since)),
    ),
  );
}

/** The pizzas of an order, identical ones counted together. */
export function ticketItems(order) {
  return h(
    'ul',
    { class: 'ticket-items' },
    groupItems(order.items).map(({ item, count }) =>
      h(
        'li',
        {},
        h('span', { class: 'ticket-qty' }, `${count}×`),
        h(
          'span',
          {},
          h('span', { class: ['size-tag', `size-${item.size}`] }, capitalize(item.size)),
          ' ',
          h('strong', {}, item.name),
          item.toppings.length === 0
            ? null
            : h('span', { class: 'ticket-toppings' }, `+ ${item.toppings.join(', ')}`),
        ),
      ),
    ),
  );
}

export function ticketNote(order) {
  return order.notes ? h('p', { class: 'note' }, icon('note', { size: 16 }), order.notes) : null;
}
