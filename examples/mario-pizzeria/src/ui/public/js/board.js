// A board of order tickets in columns by status, fed by a live stream and by the answers to our own commands
// (whichever is newer wins, by the order's version), so that a click shows its effect at once.
import { h, reconcile } from './dom.js';
import { ago, capitalize, groupItems, minutesBetween, shortId } from './format.js';
import { icon } from './icons.js';
import { follow } from './live.js';
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

/**
 * Follows a paged board stream: every open order is on some page, oldest first, so a flood of orders pushes the
 * newest to later pages but hides none. The pager shows where this page sits and moves between pages; it is
 * hidden while everything fits on one.
 * @param {string} path the live stream, without `?page=`
 * @param {string} eventName
 * @param {(items: any[]) => void} onItems
 * @param {{ onState?: (state: string) => void }} [options]
 */
export function followPages(path, eventName, onItems, { onState } = {}) {
  let page = 1;
  let stop = () => {};
  const label = h('span', { class: 'pager-label', testid: 'pager-label', 'aria-live': 'polite' });
  const older = h(
    'button',
    { type: 'button', class: 'button button-ghost', testid: 'pager-next' },
    'Newer orders',
  );
  const newer = h(
    'button',
    { type: 'button', class: 'button button-ghost', testid: 'pager-previous' },
    'Older orders',
  );
  const element = h(
    'nav',
    { class: 'pager', testid: 'pager', 'aria-label': 'Pages of orders', hidden: true },
    newer,
    label,
    older,
  );

  function open() {
    stop();
    stop = follow(
      `${path}?page=${page}`,
      eventName,
      (data) => {
        const items = data.items ?? [];
        const total = data.total ?? items.length;
        const size = data.pageSize ?? Math.max(items.length, 1);
        const pages = Math.max(1, Math.ceil(total / size));
        if (page > pages) {
          page = pages; // the page emptied while we looked at it
          open();
          return;
        }
        const first = total === 0 ? 0 : (page - 1) * size + 1;
        label.textContent = `Orders ${first}–${first + items.length - 1} of ${total}, oldest first`;
        newer.disabled = page <= 1;
        older.disabled = page >= pages;
        element.hidden = pages <= 1;
        onItems(items);
      },
      { signedIn: true, ...(onState === undefined ? {} : { onState }) },
    );
  }
  newer.addEventListener('click', () => {
    page = Math.max(1, page - 1);
    open();
  });
  older.addEventListener('click', () => {
    page += 1;
    open();
  });
  open();
  return { element, stop: () => stop() };
}
