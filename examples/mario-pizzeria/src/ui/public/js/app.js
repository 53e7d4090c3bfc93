// Mario's Pizzeria in the browser: the shell (header, navigation, account) and a router over hash URLs, so that
// every page can be linked to and reloaded. Each page is a module whose render function returns how to leave it
// (closing its live streams).
import { h } from './dom.js';
import { icon } from './icons.js';
import { current, hasRole, homeOf, onChange, clear as signOut } from './session.js';
import { onSignedIn, openSignIn } from './signin.js';
import { toast } from './toast.js';
import { renderDelivery } from './views/delivery.js';
import { renderKitchen } from './views/kitchen.js';
import { renderManager } from './views/manager.js';
import { renderMenu } from './views/menu.js';
import { renderNotFound } from './views/notFound.js';
import { renderOrder } from './views/order.js';
import { renderOrders } from './views/orders.js';

/**
 * @typedef {(main: HTMLElement, params: string[]) => (void | (() => void))} View
 * @type {{pattern: RegExp, view: View, nav?: string}[]}
 */
const routes = [
  { pattern: /^\/menu$/, view: renderMenu, nav: 'menu' },
  { pattern: /^\/orders$/, view: renderOrders, nav: 'orders' },
  { pattern: /^\/orders\/([\w-]+)$/, view: renderOrder, nav: 'orders' },
  { pattern: /^\/kitchen$/, view: renderKitchen, nav: 'kitchen' },
  { pattern: /^\/delivery$/, view: renderDelivery, nav: 'delivery' },
  { pattern: /^\/manager$/, view: renderManager, nav: 'manager' },
];

/** The navigation: everyone orders; staff see their boards. */
const navItems = [
  { id: 'menu', href: '#/menu', label: 'Menu', icon: 'pizza' },
  { id: 'orders', href: '#/orders', label: 'My orders', icon: 'receipt' },
  { id: 'kitchen', href: '#/kitchen', label: 'Kitchen', icon: 'hat', roles: ['chef', 'manager'] },
  { id: 'delivery', href: '#/delivery', label: 'Delivery', icon: 'scooter', roles: ['driver', 'manager'] },
  { id: 'manager', href: '#/manager', label: 'Dashboard', icon: 'chart', roles: ['manager'] },
];

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const account = /** @type {HTMLElement} */ (document.getElementById('account'));

/** @type {(() => void) | undefined} */
let leave;
let firstRender = true;

function route() {
  const hash = location.hash.replace(/^#/, '');
  if (hash === '' || hash === '/') {
    location.replace('#/menu');
    return;
  }
  const path = hash.split('?')[0];
  let match;
  const found = routes.find((r) => (match = r.pattern.exec(path)) !== null);
  leave?.();
  leave = undefined;
  main.replaceChildren();
  main.dataset.page = found?.nav ?? 'not-found';
  const params = match === null || match === undefined ? [] : match.slice(1);
  leave = (found?.view ?? renderNotFound)(main, params) ?? undefined;
  renderNav(found?.nav);
  if (!firstRender) {
    // Tell assistive technology that the page changed: the new page's heading takes the focus.
    const heading = main.querySelector('h1');
    if (heading instanceof HTMLElement) heading.focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  }
  firstRender = false;
}

function renderNav(active) {
  const items = navItems
    .filter((item) => item.roles === undefined || hasRole(...item.roles))
    .map((item) =>
      h(
        'a',
        {
          href: item.href,
          class: 'nav-link',
          testid: `nav-${item.id}`,
          'aria-current': item.id === active ? 'page' : undefined,
        },
        icon(/** @type {any} */ (item.icon)),
        h('span', {}, item.label),
      ),
    );
  nav.replaceChildren(...items);
}

function renderAccount() {
  const session = current();
  if (session === undefined) {
    account.replaceChildren(
      h(
        'button',
        { type: 'button', class: 'button button-ghost', testid: 'signin-open', on: { click: openSignIn } },
        icon('user'),
        h('span', {}, 'Sign in'),
      ),
    );
    return;
  }
  account.replaceChildren(
    h(
      'span',
      { class: 'whoami', testid: 'current-user', title: `Signed in as ${session.username}` },
      h(
        'span',
        { class: ['avatar', `user-${session.roles[0] ?? 'customer'}`], 'aria-hidden': 'true' },
        session.username.charAt(0).toUpperCase(),
      ),
      h(
        'span',
        { class: 'whoami-text' },
        h('strong', {}, session.username),
        h('span', {}, session.roles.join(', ')),
      ),
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'icon-button',
        testid: 'signout',
        'aria-label': 'Sign out',
        title: 'Sign out',
        on: {
          click: () => {
            signOut();
            toast('See you soon!', { kind: 'info', title: 'Signed out' });
          },
        },
      },
      icon('logout'),
    ),
  );
}

onChange(() => {
  renderAccount();
  route(); // what the page may show depends on who is signed in
});
onSignedIn((session) => {
  const here = location.hash;
  const home = homeOf(session);
  // Stay on a staff page the new user may see; else go to the user's own board.
  const staying =
    ['#/kitchen', '#/delivery', '#/manager'].includes(here) &&
    main.querySelector('[data-testid="gate"]') === null;
  if (home !== undefined && !staying && home !== here) location.hash = home;
});

// The skip link jumps to the content without touching the hash (which is the router's).
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', route);
renderAccount();
route();
