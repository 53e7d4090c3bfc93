// One order, followed live: a tracker from the oven to the door, the receipt, and who is on it.
import './order.css';
import type { OrderDto } from '../../../shared/dtos.ts';
import { call, client, ProblemError } from '../api.ts';
import { type Child, h } from '../dom.ts';
import { customerData } from '../erasure.ts';
import { capitalize, groupItems, itemTitle, money, shortId, toppingsLine, when } from '../format.ts';
import { type IconName, icon } from '../icons.ts';
import { follow } from '../live.ts';
import { emptyState, liveIndicator, loading, personal, statusBadge } from '../parts.ts';
import { current, hasRole } from '../session.ts';
import { orderKey, rememberOrder } from '../store.ts';
import { showProblem } from '../toast.ts';

/** The fields of an order that hold a time. */
type Instant = 'placedAt' | 'cookingStartedAt' | 'readyAt' | 'deliveryStartedAt' | 'deliveredAt';

const steps: readonly {
  readonly status: OrderDto['status'];
  readonly label: string;
  readonly icon: IconName;
  readonly at: Instant;
}[] = [
  { status: 'confirmed', label: 'Confirmed', icon: 'check', at: 'placedAt' },
  { status: 'cooking', label: 'In the oven', icon: 'flame', at: 'cookingStartedAt' },
  { status: 'ready', label: 'Ready', icon: 'bag', at: 'readyAt' },
  { status: 'delivering', label: 'On its way', icon: 'scooter', at: 'deliveryStartedAt' },
  { status: 'delivered', label: 'Delivered', icon: 'home', at: 'deliveredAt' },
];

/** What the customer reads at each step. */
function headline(order: OrderDto): readonly [string, string] {
  switch (order.status) {
    case 'confirmed':
      return ['Mario has your order', 'It is next in line for the oven. This page updates by itself.'];
    case 'cooking':
      return [
        'Your pizza is in the oven',
        `Fired up ${order.cookingStartedAt ? `at ${when(order.cookingStartedAt)}` : ''}${order.chef ? ` by ${order.chef}` : ''}. It won't be long now.`,
      ];
    case 'ready':
      return [
        'Your order is ready',
        order.driverId
          ? `Hot out of the oven — ${order.driverId} is taking it to you.`
          : 'Hot out of the oven, waiting for a driver.',
      ];
    case 'delivering':
      return [
        'On its way to you',
        `${order.driverId ? capitalize(order.driverId) : 'Our driver'} left ${order.deliveryStartedAt ? `at ${when(order.deliveryStartedAt)}` : 'just now'}. Keep your phone close.`,
      ];
    case 'delivered':
      return [
        'Delivered — buon appetito!',
        `Delivered at ${when(order.deliveredAt)}. Thank you for ordering from Mario's.`,
      ];
    case 'cancelled':
      return [
        'This order was cancelled',
        order.cancelReason === undefined
          ? `Cancelled at ${when(order.cancelledAt)}. If that is a surprise, please give us a call.`
          : `Cancelled at ${when(order.cancelledAt)}: ${order.cancelReason}. We are sorry; please give us a call.`,
      ];
  }
}

export function renderOrder(main: HTMLElement, [id = '']: readonly string[]): () => void {
  document.title = `Order ${shortId(id)} · Mario's Pizzeria`;
  const indicator = liveIndicator();
  const page = h(
    'section',
    { class: 'order-page', testid: 'order-page', dataset: { orderId: id } },
    loading('Finding your order…'),
  );
  main.append(page);
  let stop = () => {};
  let alive = true;
  let parts: ReturnType<typeof skeleton> | undefined;
  let version = -1;

  function show(order: OrderDto): void {
    if (order.version < version) return; // an older state than the one shown
    version = order.version;
    parts ??= skeleton();
    const [title, text] = headline(order);
    parts.title.textContent = title;
    parts.text.textContent = text;
    parts.badge.replaceWith((parts.badge = statusBadge(order.status, 'order-status')));
    page.dataset.status = order.status;
    parts.tracker.replaceWith((parts.tracker = tracker(order)));
    parts.receipt.replaceWith((parts.receipt = receipt(order)));
    parts.details.replaceWith((parts.details = details(order)));
    // The manager's: whose order it is, and erasing them at their request.
    parts.staff.replaceChildren(...(hasRole('manager') ? [customerData(order, reload)] : []));
  }

  /** Shows the order as it now is (after an erasure, which no live event tells). */
  async function reload(): Promise<void> {
    try {
      const order = await call(client.getOrder({ id, ...(key === undefined ? {} : { key }) }));
      if (alive) show(order);
    } catch (error) {
      showProblem(error, `Could not reload order ${shortId(id)}`);
    }
  }

  function skeleton() {
    const p: {
      title: HTMLElement;
      text: HTMLElement;
      badge: HTMLElement;
      tracker: HTMLElement;
      receipt: HTMLElement;
      details: HTMLElement;
      staff: HTMLElement;
    } = {
      title: h('h1', { tabindex: '-1', testid: 'order-headline' }),
      text: h('p', { class: 'lead', testid: 'order-subline' }),
      badge: h('span'),
      tracker: h('ol'),
      receipt: h('section'),
      details: h('section'),
      staff: h('div'),
    };
    page.replaceChildren(
      h(
        'header',
        { class: 'order-hero card' },
        h(
          'div',
          { class: 'order-hero-top' },
          h('p', { class: 'eyebrow', testid: 'order-number' }, `Order ${shortId(id)}`),
          h('div', { class: 'order-hero-status' }, p.badge, indicator.element),
        ),
        // Announced when it changes, so a customer with a screen reader hears "Your order is ready".
        h('div', { 'aria-live': 'polite', 'aria-atomic': 'true' }, p.title, p.text),
        p.tracker,
      ),
      h('div', { class: 'order-grid' }, p.receipt, p.details),
      p.staff,
      h(
        'p',
        { class: 'order-more' },
        h('a', { class: 'button button-ghost', href: '#/menu' }, icon('pizza'), 'Order something else'),
        h('a', { class: 'button button-ghost', href: '#/orders' }, icon('receipt'), 'All my orders'),
      ),
    );
    return p;
  }

  // An order placed without signing in opens with the key its 201 gave; a signed-in customer's, with their token.
  const key = orderKey(id);
  const access = key === undefined ? '' : `?key=${encodeURIComponent(key)}`;
  call(client.getOrder({ id, ...(key === undefined ? {} : { key }) }))
    .then((order) => {
      if (!alive) return;
      rememberOrder(order);
      show(order);
      stop = follow<OrderDto>(`/api/orders/${encodeURIComponent(id)}/live${access}`, 'order', show, {
        onState: indicator.set,
        signedIn: key === undefined && current() !== undefined,
      });
    })
    .catch((error: unknown) => {
      if (!alive) return;
      const notFound = error instanceof ProblemError && error.status === 404;
      page.replaceChildren(
        h('h1', { class: 'sr-only', tabindex: '-1' }, 'Order not found'),
        h(
          'div',
          { class: 'card' },
          emptyState(
            'receipt',
            notFound ? 'We could not find this order' : 'This order did not load',
            notFound
              ? 'The link may be mistyped, or the order is from another pizzeria.'
              : error instanceof Error
                ? error.message
                : String(error),
            h('a', { class: 'button button-primary', href: '#/menu' }, 'See the menu'),
          ),
        ),
      );
    });

  return () => {
    alive = false;
    stop();
  };
}

function tracker(order: OrderDto): HTMLOListElement {
  const cancelled = order.status === 'cancelled';
  // A cancelled order shows how far it got (the steps that have a time), then where it stopped.
  const last = cancelled
    ? steps.reduce((index, step, i) => (order[step.at] ? i : index), 0)
    : steps.findIndex((step) => step.status === order.status);
  const shown = cancelled ? steps.slice(0, last + 1) : steps;
  return h(
    'ol',
    { class: ['tracker', cancelled && 'is-cancelled'], testid: 'tracker', 'aria-label': 'Progress' },
    shown.map((step, index) => {
      const finished = index < last || (index === last && (step.status === 'delivered' || cancelled));
      const state = finished ? 'done' : index === last ? 'current' : 'todo';
      return h(
        'li',
        {
          class: ['step', `step-${state}`],
          testid: 'tracker-step',
          dataset: { step: step.status, state },
          'aria-current': state === 'current' ? 'step' : undefined,
        },
        h('span', { class: 'step-dot', 'aria-hidden': 'true' }, icon(step.icon, { size: 20 })),
        h('span', { class: 'step-label' }, step.label),
        h('span', { class: 'step-time' }, when(order[step.at])),
        h('span', { class: 'sr-only' }, state === 'done' ? ' (done)' : state === 'current' ? ' (now)' : ''),
      );
    }),
    cancelled
      ? h(
          'li',
          {
            class: 'step step-cancelled',
            testid: 'tracker-step',
            dataset: { step: 'cancelled', state: 'current' },
            'aria-current': 'step',
          },
          h('span', { class: 'step-dot', 'aria-hidden': 'true' }, icon('ban', { size: 20 })),
          h('span', { class: 'step-label' }, 'Cancelled'),
          h('span', { class: 'step-time' }, when(order.cancelledAt)),
        )
      : null,
  );
}

function receipt(order: OrderDto): HTMLElement {
  return h(
    'section',
    { class: 'card receipt', 'aria-labelledby': 'receipt-heading' },
    h('h2', { id: 'receipt-heading' }, icon('receipt'), 'Your order'),
    h(
      'ul',
      { class: 'receipt-items', testid: 'order-items' },
      groupItems(order.items).map(({ item, count, price }) =>
        h(
          'li',
          { testid: 'order-item' },
          h(
            'span',
            { class: 'receipt-item' },
            h('strong', {}, count > 1 ? `${count} × ${itemTitle(item)}` : itemTitle(item)),
            item.toppings.length === 0 ? null : h('span', { class: 'muted' }, toppingsLine(item.toppings)),
          ),
          h('span', { class: 'receipt-price' }, money(price)),
        ),
      ),
    ),
    h(
      'p',
      { class: 'receipt-total' },
      h('span', {}, 'Total'),
      h('strong', { testid: 'order-total' }, money(order.total)),
    ),
    h('p', { class: 'hint' }, 'Pay at the door — cash or card.'),
  );
}

function details(order: OrderDto): HTMLElement {
  const rows: (readonly [IconName, string, Child] | null)[] = [
    ['user', 'For', personal(order.customerName)],
    [
      'pin',
      'Deliver to',
      order.customerAddress === undefined ? 'Collect at the counter' : personal(order.customerAddress),
    ],
    ['phone', 'Phone', personal(order.customerPhone)],
    ['clock', 'Placed', when(order.placedAt)],
    order.chef ? ['hat', 'Chef', order.chef] : null,
    order.driverId ? ['scooter', 'Driver', order.driverId] : null,
  ];
  return h(
    'section',
    { class: 'card details', 'aria-labelledby': 'details-heading' },
    h('h2', { id: 'details-heading' }, icon('pin'), 'Delivery'),
    h(
      'dl',
      { class: 'facts' },
      rows
        .flatMap((row) => (row === null ? [] : [row]))
        .map(([iconName, term, value]) =>
          h('div', {}, h('dt', {}, icon(iconName, { size: 18 }), term), h('dd', {}, value)),
        ),
    ),
    order.notes
      ? h('p', { class: 'note', testid: 'order-notes' }, icon('note', { size: 18 }), personal(order.notes))
      : null,
  );
}
