// Mario's Pizzeria in the browser: the shell (header, navigation, account) and a router over hash URLs, so that
// every page can be linked to and reloaded. Each page is a module whose render function returns how to leave it
// (closing its live streams).
import './noEval.ts';
// The styles every page shares, first; each view and part brings its own (views/menu.css, styles/board.css);
// the rules for small screens and for less motion come last, so that they win.
import './styles/base.css';
import './styles/header.css';
import './styles/layout.css';
import './styles/controls.css';
import './styles/badges.css';
import './styles/emptyStates.css';
import { h } from './dom.ts';
import { type IconName, icon } from './icons.ts';
import { current, hasRole, homeOf, onChange, clear as signOut } from './session.ts';
import { onSignedIn, openSignIn } from './signin.ts';
import { toast } from './toast.ts';
import { renderDelivery } from './views/delivery.ts';
import { renderKitchen } from './views/kitchen.ts';
import { renderManager } from './views/manager.ts';
import { renderMenu } from './views/menu.ts';
import { renderNotFound } from './views/notFound.ts';
import { renderOrder } from './views/order.ts';
import { renderOrders } from './views/orders.ts';
import './styles/smallScreens.css';
import './styles/reducedMotion.css';

/** A page: it renders into `main`, given the path's parameters, and answers how to leave it. */
export type View = (main: HTMLElement, params: readonly string[]) => (() => void) | undefined;

const routes: readonly { readonly pattern: RegExp; readonly view: View; readonly nav: string }[] = [
  { pattern: /^\/menu$/, view: renderMenu, nav: 'menu' },
  { pattern: /^\/orders$/, view: renderOrders, nav: 'orders' },
  { pattern: /^\/orders\/([\w-]+)$/, view: renderOrder, nav: 'orders' },
  { pattern: /^\/kitchen$/, view: renderKitchen, nav: 'kitchen' },
  { pattern: /^\/delivery$/, view: renderDelivery, nav: 'delivery' },
  { pattern: /^\/manager$/, view: renderManager, nav: 'manager' },
];

/** The navigation: everyone orders; staff see their boards. */
const navItems: readonly {
  readonly id: string;
  readonly href: string;
  readonly label: string;
  readonly icon: IconName;
  readonly roles?: readonly string[];
}[] = [
  { id: 'menu', href: '#/menu', label: 'Menu', icon: 'pizza' },
  { id: 'orders', href: '#/orders', label: 'My orders', icon: 'receipt' },
  { id: 'kitchen', href: '#/kitchen', label: 'Kitchen', icon: 'hat', roles: ['chef', 'manager'] },
  { id: 'delivery', href: '#/delivery', label: 'Delivery', icon: 'scooter', roles: ['driver', 'manager'] },
  { id: 'manager', href: '#/manager', label: 'Dashboard', icon: 'chart', roles: ['manager'] },
];

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const account = document.getElementById('account') as HTMLElement;

let leave: (() => void) | undefined;
let firstRender = true;

function route(): void {
  const hash = location.hash.replace(/^#/, '');
  if (hash === '' || hash === '/') {
    location.replace('#/menu');
    return;
  }
  const path = hash.split('?')[0] ?? '';
  let params: readonly string[] = [];
  const found = routes.find((r) => {
    const match = r.pattern.exec(path);
    if (match !== null) params = match.slice(1);
    return match !== null;
  });
  leave?.();
  leave = undefined;
  main.replaceChildren();
  main.dataset.page = found?.nav ?? 'not-found';
  leave = (found?.view ?? renderNotFound)(main, params);
  renderNav(found?.nav);
  if (!firstRender) {
    // Tell assistive technology that the page changed: the new page's heading takes the focus.
    const heading = main.querySelector('h1');
    if (heading instanceof HTMLElement) heading.focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  }
  firstRender = false;
}

function renderNav(active: string | undefined): void {
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
        icon(item.icon),
        h('span', {}, item.label),
      ),
    );
  nav.replaceChildren(...items);
}

function renderAccount(): void {
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
