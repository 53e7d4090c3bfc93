// The sign-in panel: the four development users as one-click cards, or a username and password.
import './styles/dialog.css';
import './styles/signin.css';
import { ProblemError, signIn } from './api.ts';
import { h } from './dom.ts';
import { icon } from './icons.ts';
import { devUsers, type Session } from './session.ts';
import { showProblem, toast } from './toast.ts';

let dialog: HTMLDialogElement | undefined;
let afterSignIn: ((session: Session) => void) | undefined;

/** Sets what happens after a successful sign-in (the app takes the user to their board). */
export function onSignedIn(callback: (session: Session) => void): void {
  afterSignIn = callback;
}

/** Signs in as a development user (password = username) without the panel. */
export async function quickSignIn(username: string): Promise<void> {
  try {
    const session = await signIn(username, username);
    dialog?.close();
    welcome(session);
  } catch (error) {
    showProblem(error, 'Could not sign in');
  }
}

function welcome(session: Session | undefined): void {
  if (session === undefined) return;
  toast(`Signed in as ${session.username}.`, { kind: 'success', title: 'Welcome' });
  afterSignIn?.(session);
}

export function openSignIn(): void {
  dialog ??= build();
  dialog.showModal();
  dialog.querySelector<HTMLButtonElement>('button.user-card')?.focus();
}

function build(): HTMLDialogElement {
  const message = h('p', { class: 'field-error', testid: 'signin-error', role: 'alert', hidden: true });
  const username = h('input', {
    id: 'signin-username',
    name: 'username',
    autocomplete: 'username',
    required: true,
    testid: 'signin-username',
  });
  const password = h('input', {
    id: 'signin-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    testid: 'signin-password',
  });
  const submit = h(
    'button',
    { type: 'submit', class: 'button button-primary', testid: 'signin-submit' },
    'Sign in',
  );
  const form = h(
    'form',
    { class: 'signin-form', method: 'dialog' },
    h('div', { class: 'field' }, h('label', { for: 'signin-username' }, 'Username'), username),
    h('div', { class: 'field' }, h('label', { for: 'signin-password' }, 'Password'), password),
    message,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.hidden = true;
    submit.disabled = true;
    try {
      const session = await signIn(username.value.trim(), password.value);
      password.value = '';
      element.close();
      welcome(session);
    } catch (error) {
      message.textContent = error instanceof ProblemError ? error.message : 'Could not sign in';
      message.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  const cards = devUsers.map((user) =>
    h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: ['user-card', `user-${user.role}`],
          testid: `signin-user-${user.username}`,
          on: { click: () => quickSignIn(user.username) },
        },
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, user.title.charAt(0)),
        h(
          'span',
          { class: 'user-card-text' },
          h('strong', {}, user.title),
          h('span', { class: 'user-card-blurb' }, user.blurb),
        ),
        icon('arrow', { class: 'user-card-arrow' }),
      ),
    ),
  );

  const element: HTMLDialogElement = h(
    'dialog',
    { class: 'modal signin', testid: 'signin-dialog', 'aria-labelledby': 'signin-title' },
    h(
      'div',
      { class: 'signin-inner' },
      h(
        'button',
        {
          type: 'button',
          class: 'icon-button signin-close',
          'aria-label': 'Close',
          on: { click: () => element.close() },
        },
        icon('close'),
      ),
      h('h2', { id: 'signin-title' }, 'Sign in'),
      h(
        'p',
        { class: 'muted' },
        'Pick a development user — each sees the pizzeria from their side of the counter.',
      ),
      h('ul', { class: 'user-cards' }, cards),
      h('details', { class: 'signin-manual' }, h('summary', {}, 'Or type a username and password'), form),
    ),
  );
  // A click on the backdrop (outside the panel) closes it.
  element.addEventListener('click', (event) => {
    if (event.target === element) element.close();
  });
  document.body.append(element);
  return element;
}
