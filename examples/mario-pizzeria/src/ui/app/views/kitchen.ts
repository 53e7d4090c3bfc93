// The kitchen board: orders arrive live; one click fires one up, one click calls it ready.
import type { OrderDto } from '../../../shared/dtos.ts';
import { call, client } from '../api.ts';
import { createBoard, followPages, ticketHead, ticketItems, ticketNote } from '../board.ts';
import { h } from '../dom.ts';
import { shortId } from '../format.ts';
import { icon } from '../icons.ts';
import { gate, liveIndicator, pageHeader, personal, whileBusy } from '../parts.ts';
import { hasRole } from '../session.ts';
import { quickSignIn } from '../signin.ts';
import { showProblem, toast } from '../toast.ts';

export function renderKitchen(main: HTMLElement): (() => void) | undefined {
  document.title = "Kitchen · Mario's Pizzeria";
  if (!hasRole('chef', 'manager')) {
    main.append(
      gate({
        title: 'The kitchen board is for our chefs',
        text: 'Sign in as the chef to fire up orders and call them ready — or as the manager to watch the line.',
        users: ['chef', 'manager'],
        signIn: quickSignIn,
      }),
    );
    return undefined;
  }
  const canCook = hasRole('chef');
  const indicator = liveIndicator();
  const board = createBoard({
    testid: 'kitchen-board',
    label: 'Kitchen queue',
    columns: [
      {
        status: 'confirmed',
        title: 'New orders',
        empty: 'No new orders. Time to stretch some dough.',
        icon: 'receipt',
      },
      { status: 'cooking', title: 'In the oven', empty: 'The oven is free.', icon: 'flame' },
    ],
    ticket,
  });
  main.append(
    pageHeader({
      eyebrow: 'Kitchen',
      title: 'Orders on the line',
      lead: canCook
        ? 'New orders appear here the moment they are placed, oldest first.'
        : 'The queue as the chefs see it (only chefs can fire orders).',
      aside: indicator.element,
    }),
    board.element,
  );

  function ticket(order: OrderDto): HTMLElement {
    const action =
      order.status === 'confirmed'
        ? {
            label: 'Start cooking',
            testid: 'start-cooking',
            icon: 'flame' as const,
            send: () => call(client.startCooking({ id: order.id })),
            done: 'is in the oven',
          }
        : {
            label: 'Ready',
            testid: 'mark-ready',
            icon: 'bag' as const,
            send: () => call(client.markReady({ id: order.id })),
            done: 'is ready for delivery',
          };
    const button = h(
      'button',
      {
        type: 'button',
        class: ['button', order.status === 'confirmed' ? 'button-primary' : 'button-success'],
        testid: action.testid,
      },
      icon(action.icon),
      h('span', {}, action.label),
    );
    button.addEventListener('click', () =>
      whileBusy(button, async () => {
        try {
          board.apply(await action.send());
          toast(`${shortId(order.id)} ${action.done}.`, { kind: 'success' });
        } catch (error) {
          showProblem(error, `Could not update ${shortId(order.id)}`);
        }
      }),
    );
    return h(
      'article',
      {
        class: ['ticket', `ticket-${order.status}`],
        testid: 'kitchen-ticket',
        dataset: { orderId: order.id, status: order.status },
      },
      ticketHead(
        order,
        order.status === 'cooking' ? (order.cookingStartedAt ?? order.placedAt) : order.placedAt,
      ),
      h(
        'p',
        { class: 'ticket-customer' },
        'for ',
        personal(order.customerName),
        order.chef ? h('span', { class: 'muted' }, ` · fired by ${order.chef}`) : null,
      ),
      ticketItems(order),
      ticketNote(order),
      canCook ? h('footer', { class: 'ticket-actions' }, button) : null,
    );
  }

  const pages = followPages('/api/kitchen/live', 'queue', (items) => board.update(items), {
    onState: indicator.set,
  });
  board.element.after(pages.element);
  const stop = pages.stop;
  return () => {
    stop();
    board.dispose();
  };
}
