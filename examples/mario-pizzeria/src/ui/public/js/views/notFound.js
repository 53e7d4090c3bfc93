import { h } from '../dom.js';
import { icon } from '../icons.js';
import { emptyState } from '../parts.js';

/** @param {HTMLElement} main */
export function renderNotFound(main) {
  document.title = "Not found · Mario's Pizzeria";
  main.append(
    h('h1', { class: 'sr-only', tabindex: '-1' }, 'Page not found'),
    h(
      'div',
      { class: 'card' },
      emptyState(
        'pizza',
        'This page fell off the peel',
        'There is nothing at this address.',
        h('a', { class: 'button button-primary', href: '#/menu' }, icon('pizza'), 'Back to the menu'),
      ),
    ),
  );
}
