// A few helpers to build the DOM from code: text always goes in as text (never as HTML), so nothing a customer
// types can turn into markup, and event handlers are attached as listeners (the page's policy forbids inline ones).

const svgNs = 'http://www.w3.org/2000/svg';

/** What a child may be: nodes, text, numbers, lists of them; null, undefined and false are skipped. */
export type Child = Node | string | number | boolean | null | undefined | readonly Child[];

/**
 * An element's properties: `class` (a string, or a list whose falsy entries are dropped), `testid` (→
 * data-testid), `dataset`, `on` (`{ click: listener }`), `text`, DOM properties the element has (`value`,
 * `disabled`, `checked`, …) and any other attribute. Undefined, null and false leave a property out.
 */
export interface Props {
  readonly class?: string | readonly (string | false | null | undefined)[] | undefined;
  readonly testid?: string | undefined;
  readonly dataset?: Readonly<Record<string, string>> | undefined;
  readonly on?:
    | { readonly [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void }
    | undefined;
  readonly text?: string | number | undefined;
  readonly [attribute: string]: unknown;
}

/** Creates an element, typed after its tag (`h('input', ...)` is an HTMLInputElement). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  applyProps(element, props ?? {}, false);
  append(element, children);
  return element;
}

/** Creates an SVG element; attributes are set as given (`class`, `testid` and `on` as for `h`). */
export function svg(tag: string, attrs: Props = {}, ...children: Child[]): SVGElement {
  const element = document.createElementNS(svgNs, tag) as SVGElement;
  applyProps(element, attrs, true);
  append(element, children);
  return element;
}

function applyProps(element: HTMLElement | SVGElement, props: Props, isSvg: boolean): void {
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class')
      element.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value));
    else if (name === 'testid') element.dataset.testid = String(value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name === 'on') {
      for (const [type, listener] of Object.entries(value as Record<string, EventListener>))
        element.addEventListener(type, listener);
    } else if (name === 'text') element.textContent = String(value);
    else if (!isSvg && name in element && !name.startsWith('aria') && name !== 'list' && name !== 'form') {
      (element as unknown as Record<string, unknown>)[name] = value;
    } else element.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(parent: Element, children: readonly Child[]): void {
  for (const child of flatten(children)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function flatten(children: readonly Child[]): (Node | string | number | boolean | null | undefined)[] {
  return children.flatMap((child) =>
    Array.isArray(child) ? flatten(child) : [child as Exclude<Child, readonly Child[]>],
  );
}

/**
 * Keeps `container`'s children in the order of `items`, one node per key: a node whose item did not change is
 * left where it is (so a focused button keeps its focus), a changed one is rendered again, and leftovers go.
 * `stamp` is what identifies one state of an item (re-rendered when it changes).
 */
export function reconcile<T>(
  container: Element,
  items: readonly T[],
  keyOf: (item: T) => string,
  render: (item: T) => HTMLElement,
  stamp: (item: T) => string = (item) => JSON.stringify(item),
): void {
  const existing = new Map<string, HTMLElement>();
  for (const child of container.children) {
    if (child instanceof HTMLElement && child.dataset.key !== undefined)
      existing.set(child.dataset.key, child);
  }
  let index = 0;
  for (const item of items) {
    const key = keyOf(item);
    const mark = stamp(item);
    let node = existing.get(key);
    existing.delete(key);
    if (node === undefined || node.dataset.stamp !== mark) {
      const fresh = render(item);
      fresh.dataset.key = key;
      fresh.dataset.stamp = mark;
      if (node !== undefined) {
        const focused = node.contains(document.activeElement) ? document.activeElement : null;
        node.replaceWith(fresh);
        restoreFocus(fresh, focused);
      }
      node = fresh;
    }
    const current = container.children[index];
    if (current !== node) container.insertBefore(node, current ?? null);
    index++;
  }
  for (const leftover of existing.values()) leftover.remove();
}

/** After a re-render, puts the focus back on the element that plays the same part (same data-testid). */
function restoreFocus(fresh: HTMLElement, focused: Element | null): void {
  if (!(focused instanceof HTMLElement) || focused.dataset.testid === undefined) return;
  const twin = fresh.querySelector(`[data-testid="${CSS.escape(focused.dataset.testid)}"]`);
  if (twin instanceof HTMLElement && !twin.hasAttribute('disabled')) twin.focus();
}

/** Screen-reader-only text. */
export function srOnly(text: string): HTMLSpanElement {
  return h('span', { class: 'sr-only' }, text);
}
