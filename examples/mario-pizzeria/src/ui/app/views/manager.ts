// The manager's dashboard: the numbers and charts (live), the orders in progress (dispatch a driver, cancel),
// where a customer's request to be forgotten starts, and the menu (add, change, retire).
import './manager.css';
import type { AlertsDto } from '../../../alerts/contract.ts';
import type { MenuPizzaDto, OrderDto, OrderPageDto, StatisticsDto } from '../../../shared/dtos.ts';
import { call, client } from '../api.ts';
import { ticketStamp } from '../board.ts';
import { barChart, type DayRevenue, revenueChart } from '../charts.ts';
import { h, reconcile } from '../dom.ts';
import { ago, money, type OrderStatus, shortId, statuses, statusLabels } from '../format.ts';
import { icon } from '../icons.ts';
import { follow, type LiveState } from '../live.ts';
import {
  confirmButton,
  emptyState,
  gate,
  liveIndicator,
  loading,
  pageHeader,
  personal,
  statusBadge,
  whileBusy,
} from '../parts.ts';
import { hasRole, token } from '../session.ts';
import { quickSignIn } from '../signin.ts';
import { showProblem, toast } from '../toast.ts';
import { drivers } from './delivery.ts';

/**
 * Myelin's console, in a tab of its own: the token goes in the address's fragment, which no server or log sees,
 * and the console keeps it for its tab only.
 */
function consoleLink(): HTMLAnchorElement {
  return h(
    'a',
    {
      href: '/_myelin',
      target: '_blank',
      rel: 'noopener noreferrer',
      testid: 'open-console',
      on: {
        click: (event) => {
          (event.currentTarget as HTMLAnchorElement).href =
            `/_myelin#token=${encodeURIComponent(token() ?? '')}`;
        },
      },
    },
    'Open the system console',
  );
}

export function renderManager(main: HTMLElement): (() => void) | undefined {
  document.title = "Dashboard · Mario's Pizzeria";
  if (!hasRole('manager')) {
    main.append(
      gate({
        title: 'The dashboard is for the manager',
        text: 'Sign in as the manager to edit the menu, dispatch drivers and watch the numbers live.',
        users: ['manager'],
        signIn: quickSignIn,
      }),
    );
    return undefined;
  }
  const indicator = liveIndicator();
  const stats = statsPanel();
  const alerts = alertsPanel();
  const active = activeOrders();
  const menu = menuEditor();
  main.append(
    pageHeader({
      eyebrow: 'Dashboard',
      title: 'How the evening is going',
      lead: ['Everything here updates live. ', consoleLink()],
      aside: indicator.element,
    }),
    alerts.element,
    stats.element,
    h(
      'div',
      { class: 'dashboard-grid' },
      active.element,
      h('div', { class: 'dashboard-side' }, stats.top, forgetRequests()),
    ),
    menu.element,
  );

  // One indicator for four streams: live when all are.
  const states: Record<'alerts' | 'stats' | 'kitchen' | 'delivery', LiveState> = {
    alerts: 'connecting',
    stats: 'connecting',
    kitchen: 'connecting',
    delivery: 'connecting',
  };
  const track = (name: keyof typeof states) => (state: LiveState) => {
    states[name] = state;
    const all = Object.values(states);
    indicator.set(
      all.includes('offline') ? 'offline' : all.every((s) => s === 'live') ? 'live' : 'connecting',
    );
  };
  const stops = [
    follow<AlertsDto>('/api/alerts/live', 'alerts', alerts.update, {
      signedIn: true,
      onState: track('alerts'),
    }),
    follow<StatisticsDto>('/api/stats/live', 'stats', stats.update, {
      signedIn: true,
      onState: track('stats'),
    }),
    follow<OrderPageDto>('/api/kitchen/live', 'queue', (data) => active.update('kitchen', data.items), {
      signedIn: true,
      onState: track('kitchen'),
    }),
    follow<OrderPageDto>('/api/delivery/live', 'board', (data) => active.update('delivery', data.items), {
      signedIn: true,
      onState: track('delivery'),
    }),
  ];
  return () => {
    for (const stop of stops) stop();
    active.dispose();
    stats.dispose();
  };
}

/** The orders waiting too long (the order watch's alerts): shown only while there are some. */
function alertsPanel() {
  const list = h('ul', { class: 'alert-list' });
  const element = h(
    'section',
    { class: 'card alerts', 'aria-live': 'polite', 'aria-label': 'Alerts', testid: 'alerts', hidden: true },
    h('h2', {}, icon('clock'), 'Waiting too long'),
    list,
  );
  function update(data: AlertsDto): void {
    element.hidden = data.items.length === 0;
    list.replaceChildren(
      ...data.items.map((alert) =>
        h(
          'li',
          { testid: `alert-${alert.orderId}` },
          h('strong', {}, `Order ${shortId(alert.orderId)}`),
          alert.kind === 'kitchen'
            ? ' is not cooking yet: nudge the kitchen.'
            : ' is ready and not out: reassign it to a driver.',
          h('span', { class: 'muted' }, ` Since ${ago(alert.since)}.`),
        ),
      ),
    );
  }
  return { element, update };
}

function statsPanel() {
  const tiles = {
    revenue: tile('Revenue', 'stat-revenue', 'Delivered and in progress'),
    orders: tile('Orders', 'stat-orders', 'All time, cancelled included'),
    active: tile('In progress', 'stat-active', 'Confirmed to on the road'),
    ready: tile('Placed → ready', 'stat-ready-time', 'Average time'),
  };
  const statusChart = responsiveChart<StatisticsDto['ordersByStatus']>((data, width) =>
    barChart(
      statuses.map((s) => ({ label: statusLabels[s], value: data[s], className: s })),
      { title: 'Orders by status', testid: 'chart-status', width },
    ),
  );
  const revenueChartBox = responsiveChart<readonly DayRevenue[]>((data, width) =>
    revenueChart(data, { title: 'Revenue per day', testid: 'chart-revenue', width }),
  );
  const topList = h('ol', { class: 'top-pizzas', testid: 'top-pizzas' });
  const element = h(
    'section',
    { class: 'stats', 'aria-label': 'Statistics', testid: 'stats' },
    h(
      'div',
      { class: 'tiles' },
      Object.values(tiles).map((t) => t.element),
    ),
    h(
      'div',
      { class: 'charts' },
      h(
        'figure',
        { class: 'card chart-card' },
        h('figcaption', {}, h('h2', {}, 'Orders by status')),
        statusChart.element,
      ),
      h(
        'figure',
        { class: 'card chart-card' },
        h('figcaption', {}, h('h2', {}, 'Revenue per day')),
        revenueChartBox.element,
      ),
    ),
  );
  const top = h(
    'section',
    { class: 'card top-card', 'aria-labelledby': 'top-heading' },
    h('h2', { id: 'top-heading' }, icon('spark'), 'Most ordered'),
    topList,
  );

  function update(data: StatisticsDto): void {
    const counts = data.ordersByStatus;
    const total = statuses.reduce((sum, s) => sum + counts[s], 0);
    const open: readonly OrderStatus[] = ['confirmed', 'cooking', 'ready', 'delivering'];
    const inProgress = open.reduce((sum, s) => sum + counts[s], 0);
    tiles.revenue.set(money(data.revenue));
    tiles.orders.set(String(total));
    tiles.active.set(String(inProgress));
    tiles.ready.set(minutes(data.averageMinutesToReady));
    statusChart.draw(counts);
    revenueChartBox.draw(data.revenueByDay);
    const pizzas = data.topPizzas;
    const most = Math.max(1, ...pizzas.map((p) => p.count));
    topList.replaceChildren(
      ...(pizzas.length === 0
        ? [h('li', { class: 'muted' }, 'No orders yet.')]
        : pizzas.map((p) => {
            const bar = h('span', { class: 'top-bar' });
            bar.style.width = `${Math.max(4, (p.count / most) * 100)}%`; // through the CSSOM, which the policy allows
            return h(
              'li',
              {},
              h('span', { class: 'top-name' }, p.name),
              h('span', { class: 'top-track' }, bar),
              h('span', { class: 'top-count' }, String(p.count)),
            );
          })),
    );
  }
  return {
    element,
    top,
    update,
    dispose() {
      statusChart.dispose();
      revenueChartBox.dispose();
    },
  };
}

/**
 * A box of fixed height whose chart is drawn for the box's width, and drawn again when that changes (a rotated
 * phone, a resized window), so that its text keeps its size.
 */
function responsiveChart<T>(render: (data: T, width: number) => Element): {
  element: HTMLDivElement;
  draw(next: T): void;
  dispose(): void;
} {
  const element = h('div', { class: 'chart-box' }, loading());
  let data: T | undefined;
  let width = 0;
  const draw = () => {
    width = element.clientWidth;
    if (data !== undefined && width > 0) element.replaceChildren(render(data, width));
  };
  // The box's height is fixed, so drawing cannot resize it and feed the observer again.
  const observer = new ResizeObserver(() => {
    if (element.clientWidth !== width) draw();
  });
  observer.observe(element);
  return {
    element,
    draw(next: T) {
      data = next;
      draw();
    },
    dispose: () => observer.disconnect(),
  };
}

/** "—" before any order was ready, "< 1 min", "14 min", "1 h 20 min". */
function minutes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (value < 1) return '< 1 min';
  const rounded = Math.round(value);
  return rounded < 60 ? `${rounded} min` : `${Math.floor(rounded / 60)} h ${rounded % 60} min`;
}

function tile(label: string, testid: string, note: string) {
  const value = h('strong', { class: 'tile-value', testid }, '—');
  return {
    element: h(
      'div',
      { class: 'tile card' },
      h('span', { class: 'tile-label' }, label),
      value,
      h('span', { class: 'tile-note' }, note),
    ),
    set: (text: string) => {
      value.textContent = text;
    },
  };
}

/** The orders in progress, from the kitchen's and the delivery board's streams together. */
function activeOrders() {
  const parts: Record<'kitchen' | 'delivery', readonly OrderDto[]> = { kitchen: [], delivery: [] };
  const known = new Map<string, OrderDto>();
  const body = h('div', { class: 'active-list', testid: 'active-orders' });
  const count = h('span', { class: 'board-count' }, '0');
  const element = h(
    'section',
    { class: 'card active-card', 'aria-labelledby': 'active-heading' },
    h('h2', { id: 'active-heading' }, icon('clock'), 'Orders in progress', count),
    body,
  );
  const rank: Partial<Record<OrderStatus, number>> = { confirmed: 0, cooking: 1, ready: 2, delivering: 3 };

  function remember(order: OrderDto): OrderDto {
    const mine = known.get(order.id);
    if (mine === undefined || order.version >= mine.version) known.set(order.id, order);
    return known.get(order.id) ?? order;
  }

  function render(): void {
    const byId = new Map<string, OrderDto>();
    for (const order of [...parts.kitchen, ...parts.delivery]) byId.set(order.id, remember(order));
    const orders = [...byId.values()]
      .filter((o) => o.status in rank)
      .sort((a, b) => (rank[b.status] ?? 0) - (rank[a.status] ?? 0) || a.placedAt.localeCompare(b.placedAt));
    count.textContent = String(orders.length);
    if (orders.length === 0) {
      body.replaceChildren(emptyState('pizza', 'A quiet moment', 'Orders in progress show up here.'));
      return;
    }
    body.querySelector(':scope > .empty')?.remove();
    reconcile(body, orders, (o) => o.id, row, ticketStamp);
  }

  async function send(order: OrderDto, action: () => Promise<OrderDto>, done: string): Promise<void> {
    try {
      remember(await action());
      toast(`${shortId(order.id)} ${done}.`, { kind: 'success' });
      render();
    } catch (error) {
      showProblem(error, `Could not update ${shortId(order.id)}`);
    }
  }

  function row(order: OrderDto): HTMLElement {
    const actions: HTMLElement[] = [];
    if (order.status === 'ready' && order.driverId === undefined) {
      const select = h(
        'select',
        { 'aria-label': `Driver for ${shortId(order.id)}`, class: 'select-small', testid: 'driver-select' },
        drivers.map((d) => h('option', { value: d }, d)),
      );
      const assign = h(
        'button',
        { type: 'button', class: 'button button-primary button-small', testid: 'assign-driver' },
        icon('scooter', { size: 18 }),
        h('span', {}, 'Assign'),
      );
      assign.addEventListener('click', () =>
        whileBusy(assign, () =>
          send(
            order,
            () => call(client.assignDriver({ id: order.id, driverId: select.value })),
            `is assigned to ${select.value}`,
          ),
        ),
      );
      actions.push(h('span', { class: 'assign' }, select, assign));
    }
    actions.push(
      confirmButton({
        label: 'Cancel',
        confirm: 'Really cancel?',
        testid: 'cancel-order',
        run: () => send(order, () => call(client.cancelOrder({ id: order.id })), 'was cancelled'),
      }),
    );
    return h(
      'article',
      { class: 'active-row', testid: 'active-order', dataset: { orderId: order.id, status: order.status } },
      statusBadge(order.status),
      h(
        'span',
        { class: 'active-main' },
        h('a', { href: `#/orders/${order.id}`, class: 'ticket-number' }, shortId(order.id)),
        h('span', {}, personal(order.customerName)),
        h(
          'span',
          { class: 'muted' },
          `${order.items.length} ${order.items.length === 1 ? 'pizza' : 'pizzas'} · ${money(order.total)} · ${ago(order.placedAt)}`,
        ),
        order.driverId ? h('span', { class: 'muted' }, `Driver: ${order.driverId}`) : null,
      ),
      h('span', { class: 'active-actions' }, actions),
    );
  }

  return {
    element,
    update(source: 'kitchen' | 'delivery', items: readonly OrderDto[]) {
      parts[source] = items;
      render();
    },
    dispose() {},
  };
}

/** A UUID, as order ids are, alone or in an order's link. */
const orderIdIn = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/**
 * Where a customer's request to be forgotten starts: one of their orders, whose page shows whose it is and
 * erases them. Orders in progress are linked above; any other opens from its link or id, as the customer has it.
 */
function forgetRequests(): HTMLElement {
  const input = h('input', {
    id: 'forget-order',
    required: true,
    autocomplete: 'off',
    placeholder: 'Order link or id',
    testid: 'forget-order',
    'aria-describedby': 'forget-hint',
    'aria-errormessage': 'forget-error',
  });
  const error = h('p', { id: 'forget-error', class: 'field-error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'forget-form' },
    h('label', { for: 'forget-order', class: 'sr-only' }, 'Order link or id'),
    input,
    h(
      'button',
      { type: 'submit', class: 'button button-ghost button-small', testid: 'forget-open' },
      h('span', {}, 'Open'),
      icon('arrow', { size: 18 }),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = orderIdIn.exec(input.value)?.[0];
    error.hidden = id !== undefined;
    if (id === undefined) {
      input.setAttribute('aria-invalid', 'true');
      error.textContent =
        "That is not an order's link or id: the number on a receipt is too short to find it by.";
      return;
    }
    input.removeAttribute('aria-invalid');
    location.hash = `#/orders/${id.toLowerCase()}`;
  });
  return h(
    'section',
    { class: 'card forget-card', 'aria-labelledby': 'forget-heading' },
    h('h2', { id: 'forget-heading' }, icon('lock'), 'Asked to be forgotten?'),
    h(
      'p',
      { id: 'forget-hint', class: 'muted' },
      "Open one of the customer's orders, and erase their personal data from its page.",
    ),
    form,
    error,
  );
}

/** The menu, as the manager edits it: every pizza (retired ones too), and a form for a new one. */
function menuEditor() {
  const list = h('div', { class: 'menu-rows', testid: 'menu-editor' }, loading());
  const element = h(
    'section',
    { class: 'card menu-card', 'aria-labelledby': 'menu-editor-heading' },
    h(
      'div',
      { class: 'section-title' },
      h('h2', { id: 'menu-editor-heading' }, icon('menu'), 'The menu'),
      h(
        'p',
        { class: 'muted' },
        'Prices are for a medium pizza; small is 80%, large 160%, each topping +20%.',
      ),
    ),
    h(
      'div',
      { class: 'menu-head', 'aria-hidden': 'true' },
      h('span', {}, 'Pizza'),
      h('span', {}, 'Description'),
      h('span', {}, 'Base price'),
      h('span', {}),
    ),
    list,
    addForm(),
  );

  async function load(): Promise<void> {
    try {
      const result = await call(client.getMenu({ all: true }));
      const pizzas = [...result.items].sort(
        (a, b) => Number(b.available) - Number(a.available) || a.name.localeCompare(b.name),
      );
      list.replaceChildren(...pizzas.map(menuRow));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      list.replaceChildren(emptyState('alert', 'The menu did not load', message));
    }
  }

  function menuRow(pizza: MenuPizzaDto): HTMLFormElement {
    const name = h('input', {
      value: pizza.name,
      'aria-label': 'Name',
      disabled: !pizza.available,
      testid: 'menu-name',
      required: true,
    });
    const description = h('input', {
      value: pizza.description,
      'aria-label': `Description of ${pizza.name}`,
      disabled: !pizza.available,
      testid: 'menu-description',
    });
    const price = h('input', {
      type: 'number',
      min: '0.5',
      step: '0.01',
      value: pizza.basePrice.toFixed(2),
      'aria-label': `Base price of ${pizza.name}`,
      disabled: !pizza.available,
      testid: 'menu-price',
      inputmode: 'decimal',
    });
    const save = h(
      'button',
      { type: 'submit', class: 'button button-primary button-small', testid: 'menu-save', disabled: true },
      icon('check', { size: 18 }),
      h('span', {}, 'Save'),
    );
    const changes = (): { name?: string; description?: string; basePrice?: number } => ({
      ...(name.value.trim() === pizza.name ? {} : { name: name.value.trim() }),
      ...(description.value.trim() === pizza.description ? {} : { description: description.value.trim() }),
      ...(Number(price.value) === pizza.basePrice ? {} : { basePrice: Number(price.value) }),
    });
    const form = h(
      'form',
      {
        class: ['menu-row', !pizza.available && 'is-retired'],
        testid: 'menu-row',
        dataset: { pizza: pizza.name },
      },
      name,
      description,
      h('span', { class: 'money-input' }, h('span', { 'aria-hidden': 'true' }, '$'), price),
      pizza.available
        ? h(
            'span',
            { class: 'menu-actions' },
            save,
            confirmButton({
              label: 'Retire',
              confirm: 'Retire it?',
              testid: 'menu-retire',
              iconName: 'trash',
              run: async () => {
                try {
                  await call(client.retirePizza({ id: pizza.id }));
                  toast(`${pizza.name} is off the menu.`, { kind: 'success' });
                  await load();
                } catch (error) {
                  showProblem(error, `Could not retire ${pizza.name}`);
                }
              },
            }),
          )
        : h('span', { class: 'badge badge-cancelled' }, 'Retired'),
    );
    form.addEventListener('input', () => {
      save.disabled = Object.keys(changes()).length === 0 || !form.checkValidity();
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const patch = changes();
      if (Object.keys(patch).length === 0) return;
      await whileBusy(save, async () => {
        try {
          const updated = await call(client.changePizza({ id: pizza.id, ...patch }));
          toast(`${updated.name} is saved.`, { kind: 'success' });
          form.replaceWith(menuRow(updated));
        } catch (error) {
          showProblem(error, `Could not save ${pizza.name}`);
        }
      });
    });
    return form;
  }

  function addForm(): HTMLFormElement {
    const name = h('input', {
      id: 'new-pizza-name',
      required: true,
      testid: 'new-pizza-name',
      placeholder: 'Quattro stagioni',
    });
    const description = h('input', {
      id: 'new-pizza-description',
      testid: 'new-pizza-description',
      placeholder: 'Artichokes, ham, mushrooms, olives',
    });
    const price = h('input', {
      id: 'new-pizza-price',
      type: 'number',
      min: '0.5',
      step: '0.01',
      required: true,
      testid: 'new-pizza-price',
      placeholder: '15.99',
      inputmode: 'decimal',
    });
    const submit = h(
      'button',
      { type: 'submit', class: 'button button-primary', testid: 'new-pizza-add' },
      icon('plus', { size: 18 }),
      h('span', {}, 'Add to the menu'),
    );
    const form = h(
      'form',
      { class: 'menu-add' },
      h('h3', {}, 'A new pizza'),
      h(
        'div',
        { class: 'menu-add-fields' },
        h('div', { class: 'field' }, h('label', { for: 'new-pizza-name' }, 'Name'), name),
        h(
          'div',
          { class: 'field grow' },
          h('label', { for: 'new-pizza-description' }, 'Description'),
          description,
        ),
        h('div', { class: 'field' }, h('label', { for: 'new-pizza-price' }, 'Base price ($)'), price),
        submit,
      ),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      await whileBusy(submit, async () => {
        try {
          const created = await call(
            client.addPizza({
              name: name.value.trim(),
              basePrice: Number(price.value),
              ...(description.value.trim() === '' ? {} : { description: description.value.trim() }),
            }),
          );
          toast(`${created.name} is on the menu at ${money(created.basePrice)}.`, {
            kind: 'success',
            title: 'Added',
          });
          form.reset();
          await load();
        } catch (error) {
          showProblem(error, 'Could not add the pizza');
        }
      });
    });
    return form;
  }

  void load();
  return { element };
}
