import { h } from '../dom.ts';
import { icon } from '../icons.ts';
import { emptyState } from '../parts.ts';

export function renderNotFound(main: HTMLElement): undefined {
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
  return undefined;
}
