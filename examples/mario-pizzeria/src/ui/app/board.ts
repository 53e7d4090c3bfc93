// A board of order tickets in columns by status, fed by a live stream and by the answers to our own commands
// (whichever is newer wins, by the order's version), so that a click shows its effect at once.
import './styles/board.css';
import type { OrderDto, OrderPageDto } from '../../shared/dtos.ts';
import { h, reconcile } from './dom.ts';
import {
  ago,
  capitalize,
  groupItems,
  isErased,
  minutesBetween,
  type OrderStatus,
  shortId,
} from './format.ts';
import { type IconName, icon } from './icons.ts';
import { follow, type LiveState } from './live.ts';
import { emptyState, personal } from './parts.ts';

/** A column of a board: the orders of one status. */
export interface Column {
  readonly status: OrderStatus;
  readonly title: string;
  readonly empty: string;
  readonly icon: IconName;
}

/** A board, and how to feed it. */
export interface Board {
  readonly element: HTMLElement;
  /** A new state of the board, from the stream. */
  update(items: readonly OrderDto[]): void;
  /** One order as a command of ours returned it. */
  apply(order: OrderDto): void;
  dispose(): void;
}

export function createBoard({
  columns,
  ticket,
  testid,
  label,
}: {
  readonly columns: readonly Column[];
  readonly ticket: (order: OrderDto) => HTMLElement;
  readonly testid: string;
  readonly label: string;
}): Board {
  /** The newest state we know of each order. */
  const known = new Map<string, OrderDto>();
  let snapshot: readonly OrderDto[] = [];
  let seen: Set<string> | undefined;
  const lists = new Map<OrderStatus, HTMLElement>();
  const counts = new Map<OrderStatus, HTMLElement>();
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
        h('h2', { class: 'board-title' }, icon(column.icon), h('span', {}, column.title), count),
        list,
      );
    }),
  );

  function remember(order: OrderDto): OrderDto {
    const mine = known.get(order.id);
    if (mine === undefined || order.version >= mine.version) known.set(order.id, order);
    return known.get(order.id) ?? order;
  }

  function render(): void {
    const orders = snapshot.map((order) => remember(order));
    const before = seen;
    const fresh = new Set(
      before === undefined ? [] : orders.map((o) => o.id).filter((id) => !before.has(id)),
    );
    seen = new Set(orders.map((o) => o.id));
    if (fresh.size > 0) {
      announcer.textContent = orders
        .filter((o) => fresh.has(o.id))
        .map(
          (o) =>
            `New: ${shortId(o.id)} for ${isErased(o.customerName) ? 'an erased customer' : o.customerName}`,
        )
        .join('. ');
    }
    for (const column of columns) {
      const list = lists.get(column.status) as HTMLElement;
      const inColumn = orders.filter((order) => order.status === column.status);
      (counts.get(column.status) as HTMLElement).textContent = String(inColumn.length);
      if (inColumn.length === 0) {
        if (list.querySelector('[data-testid="empty"]') === null) {
          list.replaceChildren(emptyState(column.icon, column.empty));
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
        ticketStamp,
      );
    }
  }

  // The ages on the tickets move on with the clock (no request involved).
  const clock = setInterval(() => {
    for (const age of element.querySelectorAll<HTMLElement>('[data-since]'))
      age.textContent = waited(age.dataset.since ?? '');
  }, 30_000);

  return {
    element,
    update(items) {
      snapshot = items;
      render();
    },
    apply(order) {
      remember(order);
      render();
    },
    dispose: () => clearInterval(clock),
  };
}

/**
 * What identifies one state of an order's ticket: its version, and its customer's erasure, which changes what it
 * shows without a new version.
 */
export const ticketStamp = (order: OrderDto): string =>
  `${order.version}|${order.status}|${order.driverId ?? ''}|${isErased(order.customerName) ? 'erased' : ''}`;

export const waited = (since: string): string => (minutesBetween(since) < 1 ? 'just now' : ago(since));

/** The head of a ticket: its number and how long it has waited. */
export function ticketHead(order: OrderDto, since: string = order.placedAt): HTMLElement {
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
export function ticketItems(order: OrderDto): HTMLUListElement {
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

export function ticketNote(order: OrderDto): HTMLParagraphElement | null {
  return order.notes ? h('p', { class: 'note' }, icon('note', { size: 16 }), personal(order.notes)) : null;
}

/**
 * Follows a paged board stream (`path` without `?page=`): every open order is on some page, oldest first, so a
 * flood of orders pushes the newest to later pages but hides none. The pager shows where this page sits and moves
 * between pages; it is hidden while everything fits on one.
 */
export function followPages(
  path: string,
  eventName: string,
  onItems: (items: readonly OrderDto[]) => void,
  { onState }: { readonly onState?: (state: LiveState) => void } = {},
): { element: HTMLElement; stop: () => void } {
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

  function open(): void {
    stop();
    stop = follow<OrderPageDto>(
      `${path}?page=${page}`,
      eventName,
      (data) => {
        const items = data.items;
        const total = data.total;
        const size = Math.max(data.pageSize, 1);
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
