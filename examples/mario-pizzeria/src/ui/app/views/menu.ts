// The menu and the order form: pick pizzas, sizes and toppings, see every price as you go, and place the order.
import './menu.css';

import type { Topping } from '../../../domain/orderItem.ts';
import type { MenuDto, MenuPizzaDto, OrderDto } from '../../../shared/dtos.ts';
import { call, client, ProblemError } from '../api.ts';
import { h } from '../dom.ts';
import { cents, itemTitle, shortId, toppingsLine } from '../format.ts';
import { icon } from '../icons.ts';
import { emptyState, loading, whileBusy } from '../parts.ts';
import { pizzaArt } from '../pizzaArt.ts';
import { itemCents, type PizzaSize, sizes, totalCents } from '../pricing.ts';
import {
  type CartItem,
  type CustomerDetails,
  customerDetails,
  recentOrders,
  rememberOrder,
  saveCart,
  saveCustomerDetails,
  cart as savedCart,
} from '../store.ts';
import { showProblem, toast } from '../toast.ts';

const sizeNotes: Readonly<Record<PizzaSize, string>> = { small: '10″', medium: '12″', large: '16″' };

export function renderMenu(main: HTMLElement): () => void {
  document.title = "Menu · Mario's Pizzeria";
  const grid = h('ul', { class: 'pizza-grid', testid: 'menu' }, h('li', {}, loading('Warming up the oven…')));
  const cartPanel = h('aside', { class: 'cart card', testid: 'cart', 'aria-labelledby': 'cart-heading' });
  const cartBar = h('button', { type: 'button', class: 'cart-bar', testid: 'cart-bar', hidden: true });
  main.append(
    hero(),
    h(
      'div',
      { class: 'order-layout' },
      h(
        'section',
        { class: 'menu-section', 'aria-labelledby': 'menu-heading' },
        h(
          'div',
          { class: 'section-title' },
          h('h2', { id: 'menu-heading' }, 'Our pizzas'),
          h('p', { class: 'muted' }, 'Hand-stretched dough, San Marzano tomatoes, baked at 450 °C.'),
        ),
        grid,
      ),
      cartPanel,
    ),
    cartBar,
  );

  let items: CartItem[] = savedCart();
  let menu: MenuDto = { items: [], toppings: [] };
  const checkout = checkoutForm(() => items, placed);
  const cartList = h('ul', { class: 'cart-items', testid: 'cart-items' });
  const totalOutput = h('strong', { testid: 'cart-total' });
  const count = h('span', { class: 'cart-count', testid: 'cart-count' });
  const announcer = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  cartPanel.append(
    h('div', { class: 'cart-head' }, h('h2', { id: 'cart-heading' }, 'Your order'), count),
    cartList,
    h('div', { class: 'cart-total' }, h('span', {}, 'Total'), totalOutput),
    checkout.element,
    announcer,
  );

  function renderCart(): void {
    saveCart(items);
    const total = totalCents(items.map((item) => ({ cents: item.cents * item.quantity })));
    const pizzas = items.reduce((sum, item) => sum + item.quantity, 0);
    count.textContent = pizzas === 0 ? '' : `${pizzas} ${pizzas === 1 ? 'pizza' : 'pizzas'}`;
    totalOutput.textContent = cents(total);
    checkout.setTotal(total, pizzas);
    cartBar.replaceChildren(
      h('span', { class: 'cart-bar-count' }, `${pizzas} ${pizzas === 1 ? 'pizza' : 'pizzas'}`),
      h('span', { class: 'cart-bar-total' }, cents(total)),
      h('span', { class: 'cart-bar-action' }, 'Review order', icon('arrow', { size: 18 })),
    );
    cartBar.hidden = pizzas === 0;
    if (items.length === 0) {
      cartList.replaceChildren(
        h(
          'li',
          { class: 'cart-empty' },
          emptyState('pizza', 'Your order is empty', 'Choose a pizza, a size and your toppings.'),
        ),
      );
      return;
    }
    cartList.replaceChildren(...items.map(cartLine));
  }

  function cartLine(item: CartItem): HTMLLIElement {
    const change = (delta: number): void => {
      item.quantity += delta;
      if (item.quantity <= 0) items = items.filter((i) => i !== item);
      announcer.textContent =
        item.quantity <= 0 ? `Removed ${itemTitle(item)}` : `${item.quantity} × ${itemTitle(item)}`;
      renderCart();
      cartList
        .querySelector<HTMLButtonElement>(`[data-key="${CSS.escape(item.key)}"] .stepper button:last-child`)
        ?.focus();
    };
    return h(
      'li',
      { class: 'cart-line', testid: 'cart-item', dataset: { key: item.key } },
      h(
        'div',
        { class: 'cart-line-text' },
        h('strong', {}, itemTitle(item)),
        item.toppings.length === 0 ? null : h('span', { class: 'muted' }, toppingsLine(item.toppings)),
      ),
      h(
        'div',
        { class: 'stepper', role: 'group', 'aria-label': `Quantity of ${itemTitle(item)}` },
        h(
          'button',
          {
            type: 'button',
            class: 'icon-button small',
            'aria-label': item.quantity === 1 ? 'Remove' : 'One less',
            testid: 'cart-less',
            on: { click: () => change(-1) },
          },
          icon(item.quantity === 1 ? 'trash' : 'minus', { size: 16 }),
        ),
        h('span', { class: 'stepper-value', testid: 'cart-quantity' }, item.quantity),
        h(
          'button',
          {
            type: 'button',
            class: 'icon-button small',
            'aria-label': 'One more',
            testid: 'cart-more',
            on: { click: () => change(1) },
          },
          icon('plus', { size: 16 }),
        ),
      ),
      h('span', { class: 'cart-line-price', testid: 'cart-item-price' }, cents(item.cents * item.quantity)),
    );
  }

  function add(pizza: MenuPizzaDto, size: PizzaSize, toppings: readonly Topping[]): void {
    const key = `${pizza.name}|${size}|${toppings.join(',')}`;
    const existing = items.find((item) => item.key === key);
    if (existing !== undefined) existing.quantity += 1;
    else
      items.push({
        key,
        name: pizza.name,
        size,
        toppings,
        cents: itemCents(pizza.basePrice, size, toppings.length),
        quantity: 1,
      });
    announcer.textContent = `Added ${itemTitle({ name: pizza.name, size })} to your order`;
    renderCart();
  }

  function placed(order: OrderDto): void {
    items = [];
    saveCart(items);
    rememberOrder(order);
    toast(`Order ${shortId(order.id)} is in. Follow it here, live.`, { kind: 'success', title: 'Grazie!' });
    location.hash = `#/orders/${order.id}`;
  }

  // The bar at the bottom of a phone's screen, while the order panel is out of sight.
  cartBar.addEventListener('click', () => {
    cartPanel.scrollIntoView({ behavior: 'smooth', block: 'start' });
    checkout.focusFirst();
  });
  const observer = new IntersectionObserver(([entry]) => {
    cartBar.classList.toggle('is-away', entry !== undefined && !entry.isIntersecting);
  });
  observer.observe(cartPanel);

  renderCart();
  let alive = true;
  call(client.getMenu({}))
    .then((result) => {
      if (!alive) return;
      menu = result;
      // Prices in the cart follow the menu as it is now; pizzas no longer on it leave the cart.
      const byName = new Map(menu.items.map((pizza) => [pizza.name, pizza]));
      items = items.flatMap((item) => {
        const pizza = byName.get(item.name);
        return pizza === undefined
          ? []
          : [{ ...item, cents: itemCents(pizza.basePrice, item.size, item.toppings.length) }];
      });
      renderCart();
      grid.replaceChildren(
        ...(menu.items.length === 0
          ? [h('li', {}, emptyState('pizza', 'The menu is being written', 'Come back in a minute.'))]
          : menu.items.map((pizza) => pizzaCard(pizza, menu.toppings, add))),
      );
    })
    .catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      grid.replaceChildren(h('li', {}, emptyState('alert', 'The menu did not load', message)));
    });
  return () => {
    alive = false;
    observer.disconnect();
  };
}

function hero(): HTMLElement {
  const latest = recentOrders()[0];
  const fresh = latest !== undefined && Date.now() - new Date(latest.placedAt).getTime() < 3 * 60 * 60 * 1000;
  return h(
    'section',
    { class: 'hero' },
    h(
      'div',
      { class: 'hero-text' },
      h('p', { class: 'eyebrow' }, 'Wood-fired in the heart of town'),
      h('h1', { tabindex: '-1' }, 'Pizza the way ', h('em', {}, 'Mario'), ' makes it'),
      h(
        'p',
        { class: 'lead' },
        'Choose your pizzas, make them yours, and follow them from our oven to your door — live, as it happens.',
      ),
      fresh
        ? h(
            'a',
            { class: 'track-pill', href: `#/orders/${latest.id}`, testid: 'track-latest' },
            icon('clock', { size: 18 }),
            h('span', {}, 'Follow your order ', h('strong', {}, shortId(latest.id))),
            icon('arrow', { size: 18 }),
          )
        : null,
    ),
    h('img', { class: 'hero-art', src: '/ui/logo.svg', alt: '', width: 180, height: 180 }),
  );
}

/** One pizza: choose a size and toppings, see the price, add it. */
function pizzaCard(
  pizza: MenuPizzaDto,
  toppings: readonly Topping[],
  add: (pizza: MenuPizzaDto, size: PizzaSize, toppings: readonly Topping[]) => void,
): HTMLLIElement {
  let size: PizzaSize = 'medium';
  const chosen = new Set<Topping>();
  const art = pizzaArt(pizza);
  const price = h('output', { class: 'item-price', testid: 'item-price', 'aria-live': 'polite' });
  const slug = pizza.id.replace(/[^\w-]/g, '');
  const chosenInOrder = () => toppings.filter((t) => chosen.has(t));

  function update(): void {
    price.textContent = cents(itemCents(pizza.basePrice, size, chosen.size));
    art.update(size, chosenInOrder());
  }

  const sizeChoices = h(
    'fieldset',
    { class: 'sizes' },
    h('legend', {}, 'Size'),
    h(
      'div',
      { class: 'segmented' },
      sizes.map((s) =>
        h(
          'label',
          { class: 'segment' },
          h('input', {
            type: 'radio',
            name: `size-${slug}`,
            value: s,
            checked: s === size,
            testid: `size-${s}`,
            on: {
              change: () => {
                size = s;
                update();
              },
            },
          }),
          h(
            'span',
            { class: 'segment-label' },
            h('span', {}, s.charAt(0).toUpperCase() + s.slice(1)),
            h('small', {}, `${sizeNotes[s]} · ${cents(itemCents(pizza.basePrice, s, 0))}`),
          ),
        ),
      ),
    ),
  );

  const toppingChoices =
    toppings.length === 0
      ? null
      : h(
          'fieldset',
          { class: 'toppings' },
          h(
            'legend',
            {},
            'Extra toppings ',
            h(
              'small',
              { class: 'muted' },
              `+${cents(itemCents(pizza.basePrice, 'medium', 1) - itemCents(pizza.basePrice, 'medium', 0))} each`,
            ),
          ),
          h(
            'div',
            { class: 'chips' },
            toppings.map((topping) =>
              h(
                'label',
                { class: 'chip' },
                h('input', {
                  type: 'checkbox',
                  value: topping,
                  testid: `topping-${topping.replace(/\s+/g, '-')}`,
                  on: {
                    change: (event: Event) => {
                      if ((event.target as HTMLInputElement).checked) chosen.add(topping);
                      else chosen.delete(topping);
                      update();
                    },
                  },
                }),
                h('span', {}, topping),
              ),
            ),
          ),
        );

  const addButton = h(
    'button',
    { type: 'button', class: 'button button-primary', testid: 'add-to-order' },
    icon('plus', { size: 18 }),
    h('span', {}, 'Add to order'),
  );
  addButton.addEventListener('click', () => {
    add(pizza, size, chosenInOrder());
    addButton.classList.add('is-added');
    const label = addButton.lastElementChild as HTMLElement;
    label.textContent = 'Added';
    setTimeout(() => {
      addButton.classList.remove('is-added');
      label.textContent = 'Add to order';
    }, 1200);
  });

  update();
  return h(
    'li',
    { class: 'pizza-card card', testid: 'pizza-card', dataset: { pizza: pizza.name } },
    h('div', { class: 'pizza-visual' }, art.element),
    h(
      'div',
      { class: 'pizza-body' },
      h(
        'div',
        { class: 'pizza-title' },
        h('h3', {}, pizza.name),
        h('span', { class: 'from muted' }, `from ${cents(itemCents(pizza.basePrice, 'small', 0))}`),
      ),
      pizza.description ? h('p', { class: 'pizza-description' }, pizza.description) : null,
      sizeChoices,
      toppingChoices,
      h('div', { class: 'pizza-footer' }, price, addButton),
    ),
  );
}

/** The fields of the order form, by the name the API gives them. */
type FieldName = 'customerName' | 'customerPhone' | 'customerAddress' | 'customerEmail' | 'notes';

/** Who the order is for, and the button that places it. */
function checkoutForm(
  items: () => readonly CartItem[],
  onPlaced: (order: OrderDto) => void,
): { element: HTMLFormElement; focusFirst(): void; setTotal(total: number, count: number): void } {
  const saved = customerDetails();
  const fields: Record<FieldName, Field> = {
    customerName: field('customerName', 'Your name', {
      autocomplete: 'name',
      required: true,
      value: saved.customerName ?? '',
      testid: 'customer-name',
    }),
    customerPhone: field('customerPhone', 'Phone', {
      type: 'tel',
      autocomplete: 'tel',
      required: true,
      value: saved.customerPhone ?? '',
      testid: 'customer-phone',
      inputmode: 'tel',
    }),
    customerAddress: field('customerAddress', 'Delivery address', {
      autocomplete: 'street-address',
      value: saved.customerAddress ?? '',
      testid: 'customer-address',
      placeholder: 'Leave empty to collect at the counter',
    }),
    customerEmail: field('customerEmail', 'Email', {
      type: 'email',
      autocomplete: 'email',
      value: saved.customerEmail ?? '',
      testid: 'customer-email',
      optional: true,
    }),
    notes: field('notes', 'Notes for Mario', {
      textarea: true,
      testid: 'order-notes',
      optional: true,
      placeholder: 'Extra crispy, ring twice…',
    }),
  };
  const submitLabel = h('span', {}, 'Place order');
  const submit = h(
    'button',
    { type: 'submit', class: 'button button-primary button-large', testid: 'place-order' },
    submitLabel,
  );
  const hint = h('p', { class: 'hint center', testid: 'place-order-hint' });
  const element = h(
    'form',
    { class: 'checkout', novalidate: true, 'aria-labelledby': 'checkout-heading' },
    h('h3', { id: 'checkout-heading' }, 'Delivery details'),
    h('div', { class: 'field-row' }, fields.customerName.element, fields.customerPhone.element),
    fields.customerAddress.element,
    fields.customerEmail.element,
    fields.notes.element,
    submit,
    hint,
  );

  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    const pizzas = items().flatMap((item) =>
      Array.from({ length: item.quantity }, () => ({
        name: item.name,
        size: item.size,
        toppings: [...item.toppings],
      })),
    );
    for (const f of Object.values(fields)) f.setError(undefined);
    const missing = Object.values(fields).filter((f) => f.required && f.input.value.trim() === '');
    for (const f of missing) f.setError(`Please enter ${f.label.toLowerCase()}`);
    const email = fields.customerEmail.input;
    if (email.value.trim() !== '' && !email.checkValidity())
      fields.customerEmail.setError('This does not look like an email address');
    const invalid = Object.values(fields).find((f) => f.input.getAttribute('aria-invalid') === 'true');
    if (invalid !== undefined) {
      invalid.input.focus();
      return;
    }
    if (pizzas.length === 0) {
      toast('Add at least one pizza to your order.', { kind: 'info', title: 'Nothing to bake yet' });
      return;
    }
    const given = (name: FieldName) => {
      const value = fields[name].input.value.trim();
      return value === '' ? {} : { [name]: value };
    };
    const details: CustomerDetails = {
      ...given('customerName'),
      ...given('customerPhone'),
      ...given('customerAddress'),
      ...given('customerEmail'),
    };
    saveCustomerDetails(details);
    const body = {
      customerName: details.customerName ?? '',
      customerPhone: details.customerPhone ?? '',
      ...details,
      ...given('notes'),
      pizzas,
    };
    await whileBusy(submit, async () => {
      submitLabel.textContent = 'Sending to the kitchen…';
      try {
        const order = await call(client.placeOrder(body));
        fields.notes.input.value = '';
        onPlaced(order);
      } catch (error) {
        // The server names the fields it refuses: show each next to its field.
        const refused = error instanceof ProblemError ? (error.problem.errors ?? []) : [];
        for (const e of refused) if (e.field in fields) fields[e.field as FieldName].setError(e.detail);
        showProblem(error, 'We could not place your order');
      } finally {
        submitLabel.textContent = 'Place order';
      }
    });
  });

  return {
    element,
    focusFirst: () =>
      Object.values(fields)
        .find((f) => f.input.value === '')
        ?.input.focus({ preventScroll: true }),
    setTotal(total, count) {
      submit.disabled = count === 0;
      submitLabel.textContent = count === 0 ? 'Place order' : `Place order · ${cents(total)}`;
      hint.textContent =
        count === 0 ? 'Add a pizza to place your order.' : 'Pay the driver at the door — cash or card.';
    },
  };
}

/** A labelled input with its own error message. */
interface Field {
  readonly element: HTMLDivElement;
  readonly input: HTMLInputElement | HTMLTextAreaElement;
  readonly label: string;
  readonly required: boolean;
  setError(message: string | undefined): void;
}

function field(
  name: FieldName,
  label: string,
  {
    textarea = false,
    optional = false,
    required = false,
    testid,
    ...attributes
  }: {
    readonly textarea?: boolean;
    readonly optional?: boolean;
    readonly required?: boolean;
    readonly testid: string;
    readonly [attribute: string]: unknown;
  },
): Field {
  const id = `field-${name}`;
  const errorId = `${id}-error`;
  const input = h(textarea ? 'textarea' : 'input', {
    id,
    name,
    testid,
    required,
    rows: textarea ? 2 : undefined,
    'aria-describedby': errorId,
    ...attributes,
  });
  const error = h('p', { class: 'field-error', id: errorId, hidden: true });
  input.addEventListener('input', () => setError(undefined));
  function setError(message: string | undefined): void {
    error.hidden = message === undefined;
    error.textContent = message ?? '';
    if (message === undefined) input.removeAttribute('aria-invalid');
    else input.setAttribute('aria-invalid', 'true');
  }
  return {
    element: h(
      'div',
      { class: 'field' },
      h('label', { for: id }, label, optional ? h('span', { class: 'optional' }, ' (optional)') : null),
      input,
      error,
    ),
    input,
    label,
    required,
    setError,
  };
}
