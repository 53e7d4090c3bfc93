// A few helpers to build the DOM from code: text always goes in as text (never as HTML), so nothing a customer
// types can turn into markup, and event handlers are attached as listeners (the page's policy forbids inline ones).

const svgNs = 'http://www.w3.org/2000/svg';

/**
 * Creates an element. `props`: `class`, `testid` (→ data-testid), `dataset`, `on` ({click: fn}), `text`, DOM
 * properties that exist on the element (`value`, `disabled`, `checked`, …) and any other attribute.
 * Children: nodes, strings, numbers, arrays of them; null, undefined and false are skipped.
 * @param {string} tag
 * @param {Record<string, any>} [props]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  applyProps(element, props, false);
  append(element, children);
  return element;
}

/**
 * Creates an SVG element; attributes are set as given (`class`, `testid` and `on` as for `h`).
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...any} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(svgNs, tag);
  applyProps(element, attrs, true);
  append(element, children);
  return element;
}

function applyProps(element, props, isSvg) {
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class')
      element.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (name === 'testid') element.dataset.testid = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name === 'on') {
      for (const [type, listener] of Object.entries(value)) element.addEventListener(type, listener);
    } else if (name === 'text') element.textContent = String(value);
    else if (!isSvg && name in element && !name.startsWith('aria') && name !== 'list' && name !== 'form') {
      element[name] = value;
    } else element.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Keeps `container`'s children in the order of `items`, one node per key: a node whose item did not change is
 * left where it is (so a focused button keeps its focus), a changed one is rendered again, and leftovers go.
 * @template T
 * @param {Element} container
 * @param {readonly T[]} items
 * @param {(item: T) => string} keyOf
 * @param {(item: T) => Element} render
 * @param {(item: T) => string} [stamp] what identifies one state of an item (re-rendered when it changes)
 */
export function reconcile(container, items, keyOf, render, stamp = (item) => JSON.stringify(item)) {
  /** @type {Map<string, Element>} */
  const existing = new Map();
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
function restoreFocus(fresh, focused) {
  if (!(focused instanceof HTMLElement) || focused.dataset.testid === undefined) return;
  const twin = fresh.querySelector(`[data-testid="${CSS.escape(focused.dataset.testid)}"]`);
  if (twin instanceof HTMLElement && !twin.hasAttribute('disabled')) twin.focus();
}

/** Screen-reader-only text. */
export function srOnly(text) {
  return h('span', { class: 'sr-only' }, text);
}
