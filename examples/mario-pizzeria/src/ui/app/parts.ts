// Pieces several pages share: page headers, status badges, a customer's details, the live indicator, the
// staff-only gate, buttons that wait for the server.
import { type Child, h, srOnly } from './dom.ts';
import { erasedWords, isErased, type OrderStatus, statusLabels } from './format.ts';
import { type IconName, icon } from './icons.ts';
import type { LiveState } from './live.ts';
import { devUsers } from './session.ts';

/** The page's title block; its heading takes the focus after navigation (tabindex -1). */
export function pageHeader({
  eyebrow,
  title,
  lead,
  aside,
  testid,
}: {
  readonly eyebrow?: string;
  readonly title: Child;
  readonly lead?: Child;
  readonly aside?: Child;
  readonly testid?: string;
}): HTMLElement {
  return h(
    'header',
    { class: 'page-header' },
    h(
      'div',
      { class: 'page-header-text' },
      eyebrow === undefined ? null : h('p', { class: 'eyebrow' }, eyebrow),
      h('h1', { tabindex: '-1', testid }, title),
      lead === undefined ? null : h('p', { class: 'lead' }, lead),
    ),
    aside ?? null,
  );
}

export function statusBadge(status: OrderStatus, testid = 'status-badge'): HTMLSpanElement {
  return h(
    'span',
    { class: ['badge', `badge-${status}`], testid, dataset: { status } },
    statusLabels[status] ?? status,
  );
}

/**
 * A customer's detail (name, phone, address, notes) as staff see it: as they typed it, or, once they were erased,
 * a muted mark that reads as words to a screen reader instead of the placeholder's brackets.
 */
export function personal(value: string): Child {
  if (!isErased(value)) return value;
  return h(
    'span',
    { class: 'erased', testid: 'erased', title: erasedWords },
    h('span', { 'aria-hidden': 'true' }, 'erased'),
    srOnly(erasedWords),
  );
}

/** "● Live" while the stream is open; it says so when it is reconnecting. */
export function liveIndicator(): { element: HTMLSpanElement; set(state: LiveState): void } {
  const text = h('span', {}, 'Connecting…');
  const element = h(
    'span',
    { class: 'live', testid: 'live-indicator', dataset: { state: 'connecting' }, role: 'status' },
    h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
    text,
  );
  const words: Record<LiveState, string> = {
    connecting: 'Connecting…',
    live: 'Live',
    offline: 'Reconnecting…',
  };
  return {
    element,
    set(state) {
      if (element.dataset.state === state) return;
      element.dataset.state = state;
      text.textContent = words[state];
    },
  };
}

/** What a page shows to someone without the role it needs, with one-click sign-in as the users who have it. */
export function gate({
  title,
  text,
  users,
  signIn,
}: {
  readonly title: string;
  readonly text: string;
  readonly users: readonly string[];
  readonly signIn: (username: string) => void;
}): HTMLElement {
  return h(
    'section',
    { class: 'gate card', testid: 'gate' },
    h('span', { class: 'gate-icon', 'aria-hidden': 'true' }, icon('lock', { size: 28 })),
    h('h1', { tabindex: '-1' }, title),
    h('p', { class: 'lead' }, text),
    h(
      'div',
      { class: 'gate-actions' },
      users.map((username, index) => {
        const user = devUsers.find((u) => u.username === username);
        return h(
          'button',
          {
            type: 'button',
            class: ['button', index === 0 ? 'button-primary' : 'button-ghost'],
            testid: `gate-signin-${username}`,
            on: { click: () => signIn(username) },
          },
          icon('user'),
          `Sign in as ${user?.title ?? username}`,
        );
      }),
    ),
    h('p', { class: 'hint' }, 'Development users: the password is the username.'),
  );
}

/** A friendly empty state. */
export function emptyState(iconName: IconName, title: string, text?: string, action?: Child): HTMLDivElement {
  return h(
    'div',
    { class: 'empty', testid: 'empty' },
    h('span', { class: 'empty-icon', 'aria-hidden': 'true' }, icon(iconName, { size: 30 })),
    h('p', { class: 'empty-title' }, title),
    text === undefined ? null : h('p', { class: 'empty-text' }, text),
    action ?? null,
  );
}

/** Runs `action` for a button: disabled and marked busy meanwhile, so one click does one thing. */
export async function whileBusy<T>(
  button: HTMLButtonElement,
  action: () => Promise<T>,
): Promise<T | undefined> {
  if (button.disabled) return;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.classList.add('is-busy');
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.classList.remove('is-busy');
  }
}

/** A button that asks once more before doing something that cannot be undone ("Cancel order" → "Yes, cancel"). */
export function confirmButton({
  label,
  confirm,
  testid,
  iconName = 'ban',
  run,
}: {
  readonly label: string;
  readonly confirm: string;
  readonly testid: string;
  readonly iconName?: IconName;
  readonly run: () => Promise<unknown>;
}): HTMLButtonElement {
  let armed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const text = h('span', {}, label);
  const button = h(
    'button',
    { type: 'button', class: 'button button-danger-quiet', testid },
    icon(iconName),
    text,
  );
  button.addEventListener('click', () => {
    if (!armed) {
      armed = true;
      text.textContent = confirm;
      button.classList.add('is-armed');
      timer = setTimeout(disarm, 4000);
      return;
    }
    disarm();
    whileBusy(button, run);
  });
  function disarm(): void {
    clearTimeout(timer);
    armed = false;
    text.textContent = label;
    button.classList.remove('is-armed');
  }
  return button;
}

/** A spinner-free loading placeholder. */
export const loading = (text = 'Loading…'): HTMLParagraphElement =>
  h('p', { class: 'loading', role: 'status' }, text);
