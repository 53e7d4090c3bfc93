// The delivery board: ready orders waiting for a driver and those on the road, live.
import type { OrderDto } from '../../../shared/dtos.ts';
import { call, client } from '../api.ts';
import { createBoard, followPages, ticketHead, ticketItems, ticketNote } from '../board.ts';
import { h } from '../dom.ts';
import { isErased, money, shortId } from '../format.ts';
import { icon } from '../icons.ts';
import { gate, liveIndicator, pageHeader, personal, whileBusy } from '../parts.ts';
import { current, hasRole } from '../session.ts';
import { quickSignIn } from '../signin.ts';
import { showProblem, toast } from '../toast.ts';

/** The drivers a manager can dispatch (the development users; a driver's id is their token's subject). */
export const drivers = ['driver'];

export function renderDelivery(main: HTMLElement): (() => void) | undefined {
  document.title = "Delivery · Mario's Pizzeria";
  if (!hasRole('driver', 'manager')) {
    main.append(
      gate({
        title: 'The delivery board is for our drivers',
        text: 'Sign in as the driver to pick up ready orders — or as the manager to dispatch them.',
        users: ['driver', 'manager'],
        signIn: quickSignIn,
      }),
    );
    return undefined;
  }
  const isDriver = hasRole('driver');
  const isManager = hasRole('manager');
  const me = current()?.username;
  const indicator = liveIndicator();
  const board = createBoard({
    testid: 'delivery-board',
    label: 'Delivery board',
    columns: [
      {
        status: 'ready',
        title: 'Ready for pickup',
        empty: 'Nothing waiting. The next one is in the oven.',
        icon: 'bag',
      },
      { status: 'delivering', title: 'On the road', empty: 'Nobody is out right now.', icon: 'scooter' },
    ],
    ticket,
  });
  main.append(
    pageHeader({
      eyebrow: 'Delivery',
      title: isDriver ? 'Your runs' : 'Deliveries',
      lead: 'Ready orders appear here hot out of the oven, oldest first.',
      aside: indicator.element,
    }),
    board.element,
  );

  async function run(
    button: HTMLButtonElement,
    order: OrderDto,
    send: () => Promise<OrderDto>,
    done: string,
  ): Promise<void> {
    await whileBusy(button, async () => {
      try {
        board.apply(await send());
        toast(`${shortId(order.id)} ${done}.`, { kind: 'success' });
      } catch (error) {
        showProblem(error, `Could not update ${shortId(order.id)}`);
      }
    });
  }

  function ticket(order: OrderDto): HTMLElement {
    const actions: HTMLButtonElement[] = [];
    if (isDriver && order.status === 'ready') {
      const someoneElse = order.driverId !== undefined && order.driverId !== me;
      const start = h(
        'button',
        { type: 'button', class: 'button button-primary', testid: 'start-delivery', disabled: someoneElse },
        icon('scooter'),
        h('span', {}, someoneElse ? `Assigned to ${order.driverId}` : 'Start delivery'),
      );
      start.addEventListener('click', () =>
        run(start, order, () => call(client.startDelivery({ id: order.id })), 'is on its way'),
      );
      actions.push(start);
    }
    if (isDriver && order.status === 'delivering') {
      const delivered = h(
        'button',
        { type: 'button', class: 'button button-success', testid: 'mark-delivered' },
        icon('home'),
        h('span', {}, 'Delivered'),
      );
      delivered.addEventListener('click', () =>
        run(delivered, order, () => call(client.markDelivered({ id: order.id })), 'was delivered'),
      );
      actions.push(delivered);
    }
    if (isManager && order.status === 'ready' && order.driverId === undefined) {
      for (const driverId of drivers) {
        const assign = h(
          'button',
          { type: 'button', class: 'button button-ghost', testid: 'assign-driver' },
          icon('user'),
          h('span', {}, `Assign ${driverId}`),
        );
        assign.addEventListener('click', () =>
          run(
            assign,
            order,
            () => call(client.assignDriver({ id: order.id, driverId })),
            `is assigned to ${driverId}`,
          ),
        );
        actions.push(assign);
      }
    }
    const since = order.status === 'delivering' ? (order.deliveryStartedAt ?? order.readyAt) : order.readyAt;
    return h(
      'article',
      {
        class: ['ticket', `ticket-${order.status}`],
        testid: 'delivery-ticket',
        dataset: { orderId: order.id, status: order.status },
      },
      ticketHead(order, since ?? order.placedAt),
      h(
        'div',
        { class: 'ticket-address' },
        icon('pin', { size: 18 }),
        h(
          'div',
          {},
          h('strong', {}, personal(order.customerName)),
          h(
            'span',
            {},
            order.customerAddress === undefined ? 'Collects at the counter' : personal(order.customerAddress),
          ),
        ),
      ),
      h(
        'p',
        { class: 'ticket-contact' },
        // An erased phone is no number to call.
        isErased(order.customerPhone)
          ? h('span', { class: 'ticket-phone' }, icon('phone', { size: 16 }), personal(order.customerPhone))
          : h(
              'a',
              { href: `tel:${order.customerPhone.replace(/[^\d+]/g, '')}` },
              icon('phone', { size: 16 }),
              order.customerPhone,
            ),
        h('span', { class: 'ticket-total' }, money(order.total)),
      ),
      order.driverId
        ? h(
            'p',
            { class: 'ticket-driver', testid: 'ticket-driver' },
            icon('scooter', { size: 16 }),
            `Driver: ${order.driverId}`,
          )
        : null,
      ticketItems(order),
      ticketNote(order),
      actions.length === 0 ? null : h('footer', { class: 'ticket-actions' }, actions),
    );
  }

  const pages = followPages('/api/delivery/live', 'board', (items) => board.update(items), {
    onState: indicator.set,
  });
  board.element.after(pages.element);
  const stop = pages.stop;
  return () => {
    stop();
    board.dispose();
  };
}
