// Short messages in a corner: what went well, and what went wrong in words the server chose (problem details).
import './styles/toast.css';
import { ProblemError } from './api.ts';
import { h } from './dom.ts';
import { icon } from './icons.ts';

const region = (): HTMLElement => document.getElementById('toasts') as HTMLElement;

export interface ToastOptions {
  readonly kind?: 'success' | 'error' | 'info';
  readonly title?: string | undefined;
  readonly lines?: readonly string[];
}

/** Shows a message for a few seconds (errors stay longer), announced to screen readers. */
export function toast(message: string, { kind = 'info', title, lines = [] }: ToastOptions = {}): void {
  const close = h(
    'button',
    { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', on: { click: () => dismiss() } },
    icon('close'),
  );
  const element = h(
    'div',
    // The region around the toasts is a polite live region; an error interrupts (role alert).
    { class: ['toast', `toast-${kind}`], testid: 'toast', role: kind === 'error' ? 'alert' : undefined },
    h(
      'span',
      { class: 'toast-icon', 'aria-hidden': 'true' },
      icon(kind === 'error' ? 'alert' : kind === 'success' ? 'check' : 'info'),
    ),
    h(
      'div',
      { class: 'toast-body' },
      title === undefined ? null : h('strong', { class: 'toast-title' }, title),
      h('p', { testid: 'toast-message' }, message),
      lines.length === 0
        ? null
        : h(
            'ul',
            {},
            lines.map((line) => h('li', {}, line)),
          ),
    ),
    close,
  );
  let timer = setTimeout(dismiss, kind === 'error' ? 9000 : 5000);
  element.addEventListener('mouseenter', () => clearTimeout(timer));
  element.addEventListener('mouseleave', () => {
    timer = setTimeout(dismiss, 3000);
  });
  function dismiss(): void {
    clearTimeout(timer);
    element.classList.add('leaving');
    setTimeout(() => element.remove(), 200);
  }
  region().append(element);
  // Keep the corner tidy: only the last few stay.
  while (region().children.length > 4) region().firstElementChild?.remove();
}

/** Shows why something failed: the problem's `detail`, and each field's own message. */
export function showProblem(error: unknown, title = 'That did not work'): void {
  if (error instanceof ProblemError) {
    const problem = error.problem;
    const lines = (problem.errors ?? [])
      .map((e) => e.detail)
      .filter((line) => line !== '' && line !== problem.detail);
    toast(problem.detail ?? problem.title ?? 'Something went wrong', { kind: 'error', title, lines });
  } else {
    toast(error instanceof Error ? error.message : String(error), { kind: 'error', title });
  }
}
