// Erasing a customer's personal data at their request, as the manager does from one of their orders. It cannot be
// undone, so a dialog says what goes and that it goes for good, and takes an optional reason (a ticket number)
// for the record of the erasure; nothing happens until its own button is pressed (Enter in the reason does not).
import './styles/dialog.css';
import './styles/erasure.css';
import type { OrderDto } from '../../shared/dtos.ts';
import { call, client } from './api.ts';
import { h } from './dom.ts';
import { isErased } from './format.ts';
import { icon } from './icons.ts';
import { whileBusy } from './parts.ts';
import { showProblem, toast } from './toast.ts';

const isGuest = (order: OrderDto): boolean => order.customerId.startsWith('guest-');

/**
 * The manager's part of an order's page: whose order it is (the customer id an erasure takes) and the way to
 * erase them, or that they were. `erased` runs after an erasure, to show the order as it now is.
 */
export function customerData(order: OrderDto, erased: () => Promise<void>): HTMLElement {
  const guest = isGuest(order);
  const button = h(
    'button',
    { type: 'button', class: 'button button-danger-quiet', testid: 'erase-customer' },
    icon('trash'),
    h('span', {}, "Erase customer's personal data"),
  );
  button.addEventListener('click', () => confirmErasure(order, erased));
  return h(
    'section',
    { class: 'card customer-data', testid: 'customer-data', 'aria-labelledby': 'customer-data-heading' },
    h('h2', { id: 'customer-data-heading' }, icon('lock'), 'Personal data'),
    h(
      'p',
      {},
      'Customer ',
      h('code', { testid: 'customer-id' }, order.customerId),
      guest ? ' (ordered without signing in)' : null,
    ),
    isErased(order.customerName)
      ? h(
          'p',
          { class: 'muted', testid: 'customer-erased' },
          "This customer's personal data was erased at their request: staff see the order without it, and the customer can no longer open it.",
        )
      : [
          h(
            'p',
            { class: 'muted' },
            guest
              ? 'If they ask to be forgotten: erase the name, phone, address, e-mail and notes of this order.'
              : 'If they ask to be forgotten: erase their profile, and their name, phone, address, e-mail and notes on every order they placed.',
          ),
          button,
        ],
  );
}

/** The dialog that asks before erasing, and erases. */
function confirmErasure(order: OrderDto, erased: () => Promise<void>): void {
  const reason = h('input', {
    id: 'erase-reason',
    maxLength: 200,
    autocomplete: 'off',
    placeholder: 'Ticket 42',
    testid: 'erase-reason',
    'aria-describedby': 'erase-reason-hint',
  });
  const keep = h(
    'button',
    { type: 'button', class: 'button button-ghost', testid: 'erase-keep' },
    'Keep the data',
  );
  const confirm = h(
    'button',
    { type: 'button', class: 'button button-danger', testid: 'erase-confirm' },
    icon('trash'),
    h('span', {}, 'Erase for good'),
  );
  const dialog: HTMLDialogElement = h(
    'dialog',
    {
      class: 'modal erase-dialog',
      testid: 'erase-dialog',
      'aria-labelledby': 'erase-title',
      'aria-describedby': 'erase-what erase-final',
    },
    h(
      'div',
      { class: 'erase-inner' },
      h('h2', { id: 'erase-title' }, icon('alert'), "Erase this customer's personal data?"),
      h(
        'p',
        { id: 'erase-what' },
        'Customer ',
        h('code', {}, order.customerId),
        isErased(order.customerName) ? null : ` (${order.customerName})`,
        isGuest(order)
          ? ': this order was placed without signing in, so its name, phone, address, e-mail and notes are erased, and whoever holds its link can no longer open it.'
          : ': their profile is removed, their name, phone, address, e-mail and notes are erased from every order they placed, and they can no longer open those orders.',
        ' Staff still see the orders, with those details shown as erased, and the statistics still count them.',
      ),
      h('p', { id: 'erase-final', class: 'erase-final' }, h('strong', {}, 'This cannot be undone.')),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'erase-reason' }, 'Reason ', h('span', { class: 'optional' }, '(optional)')),
        reason,
        h(
          'p',
          { id: 'erase-reason-hint', class: 'hint' },
          'Kept with the record of the erasure: a ticket or request number, never personal data.',
        ),
      ),
      h('div', { class: 'erase-actions' }, keep, confirm),
    ),
  );
  keep.addEventListener('click', () => dialog.close());
  confirm.addEventListener('click', () =>
    whileBusy(confirm, async () => {
      const why = reason.value.trim();
      try {
        await call(
          client.eraseCustomer({ customerId: order.customerId, ...(why === '' ? {} : { reason: why }) }),
        );
      } catch (error) {
        dialog.close();
        showProblem(error, "Could not erase the customer's personal data");
        return;
      }
      dialog.close();
      toast(`Customer ${order.customerId} is erased: their orders now show no personal data.`, {
        kind: 'success',
        title: 'Personal data erased',
      });
      await erased();
    }),
  );
  // A click on the backdrop (outside the panel) keeps the data, as Escape does.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  reason.focus();
}
