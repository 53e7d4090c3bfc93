// A drawing of each pizza, made from its name and description, that grows with its size and shows the toppings
// the customer adds. Deterministic: the same pizza always looks the same.
import { svg } from './dom.ts';
import type { PizzaSize } from './pricing.ts';

/** What a drawing is made from: a pizza's name and description. */
export interface Drawable {
  readonly name: string;
  readonly description?: string;
}

type Glyph = (rand: () => number) => SVGElement[];
interface Point {
  readonly x: number;
  readonly y: number;
}

/** The toppings each kind of pizza comes with, by words in its name or description. */
const recipes: readonly (readonly [RegExp, readonly string[]])[] = [
  [/margherita|caprese/, ['mozzarella', 'basil']],
  [/supreme|everything|capricciosa/, ['pepperoni', 'peppers', 'olives', 'mushrooms', 'onions']],
  [/hawai/, ['ham', 'pineapple']],
  [/diavola|spicy|inferno|chil/, ['pepperoni', 'chili']],
  [/pepperoni|salami/, ['pepperoni']],
  [/veg|ortolana|garden|primavera/, ['peppers', 'olives', 'mushrooms', 'onions']],
  [/formaggi|four cheese|cheese/, ['mozzarella', 'extra cheese']],
  [/funghi|mushroom/, ['mushrooms']],
  [/bbq|chicken/, ['chicken', 'onions']],
  [/prosciutto|ham/, ['ham']],
  [/marinara|garlic/, ['garlic', 'basil']],
];

export function recipeOf(pizza: Drawable): readonly string[] {
  const text = `${pizza.name} ${pizza.description ?? ''}`.toLowerCase();
  for (const [pattern, toppings] of recipes) if (pattern.test(text)) return toppings;
  return ['basil'];
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** A small seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const glyphs: Readonly<Record<string, Glyph>> = {
  pepperoni: (r: () => number) => [
    svg('circle', { r: 6.2, fill: '#b8322a' }),
    svg('circle', { r: 6.2, fill: 'none', stroke: '#8f2019', 'stroke-width': 0.8 }),
    svg('circle', { cx: -2, cy: -1.5, r: 0.9, fill: '#8f2019' }),
    svg('circle', { cx: 2.2, cy: 1.6, r: 0.8, fill: '#8f2019' }),
    svg('circle', { cx: 0.6 - r() * 2, cy: -3.2, r: 0.6, fill: '#e06b4f' }),
  ],
  mozzarella: () => [svg('ellipse', { rx: 6.5, ry: 5.6, fill: '#fffaf0', opacity: 0.95 })],
  basil: () => [
    svg('path', { d: 'M-6 0 Q0 -5 6 0 Q0 5 -6 0z', fill: '#3e8e3a' }),
    svg('path', { d: 'M-5 0 H5', stroke: '#2b6a28', 'stroke-width': 0.7 }),
  ],
  olives: () => [svg('circle', { r: 2.8, fill: 'none', stroke: '#2a2623', 'stroke-width': 2.2 })],
  mushrooms: () => [
    svg('path', { d: 'M-5 0 A5 4.6 0 0 1 5 0z', fill: '#e3d1b5', stroke: '#a9865c', 'stroke-width': 0.8 }),
    svg('rect', {
      x: -1.8,
      y: 0,
      width: 3.6,
      height: 3.6,
      rx: 1,
      fill: '#efe3cf',
      stroke: '#a9865c',
      'stroke-width': 0.8,
    }),
  ],
  peppers: () => [
    svg('path', {
      d: 'M-5 2 Q0 -6 5 2',
      fill: 'none',
      stroke: '#3d9b3f',
      'stroke-width': 2.4,
      'stroke-linecap': 'round',
    }),
  ],
  onions: () => [
    svg('path', {
      d: 'M-4.5 1.5 A4.8 4.8 0 0 1 4.5 1.5',
      fill: 'none',
      stroke: '#b07cc6',
      'stroke-width': 1.5,
      'stroke-linecap': 'round',
    }),
  ],
  ham: () => [
    svg('rect', {
      x: -4.5,
      y: -3.5,
      width: 9,
      height: 7,
      rx: 2,
      fill: '#f19ba0',
      stroke: '#d9737a',
      'stroke-width': 0.7,
    }),
  ],
  pineapple: () => [
    svg('path', {
      d: 'M-4 3 L0 -4 L4 3z',
      fill: '#f6d34f',
      stroke: '#d8aa22',
      'stroke-width': 0.8,
      'stroke-linejoin': 'round',
    }),
  ],
  'extra cheese': () => [svg('ellipse', { rx: 4.6, ry: 3.8, fill: '#fff0b3' })],
  chili: () => [
    svg('path', {
      d: 'M-4 1 Q0 -3 4 -1',
      fill: 'none',
      stroke: '#d8261c',
      'stroke-width': 2,
      'stroke-linecap': 'round',
    }),
  ],
  chicken: () => [
    svg('rect', {
      x: -4,
      y: -3,
      width: 8,
      height: 6,
      rx: 2.5,
      fill: '#d9a066',
      stroke: '#b27c43',
      'stroke-width': 0.7,
    }),
  ],
  garlic: () => [svg('ellipse', { rx: 3, ry: 2, fill: '#fbf4e2', stroke: '#d8c9a3', 'stroke-width': 0.6 })],
};

const palette = ['#6e9f3b', '#c2561f', '#7d5a3c', '#d9a12b', '#8b3b6b'];

function glyphOf(topping: string): Glyph {
  const exact = glyphs[topping];
  if (exact !== undefined) return exact;
  const key = Object.keys(glyphs).find((name) => topping.toLowerCase().includes(name.replace(/s$/, '')));
  if (key !== undefined) return glyphs[key] as Glyph;
  const colour = palette[hash(topping) % palette.length];
  return () => [svg('circle', { r: 3.4, fill: colour, stroke: '#00000033', 'stroke-width': 0.6 })];
}

/** Spreads `count` points over the cheese, keeping away from those already placed. */
function scatter(rand: () => number, count: number, placed: Point[]): Point[] {
  const points: Point[] = [];
  for (let i = 0; i < count; i++) {
    let best: Point = { x: 60, y: 60 };
    let bestDistance = -1;
    for (let k = 0; k < 14; k++) {
      const angle = rand() * Math.PI * 2;
      const radius = Math.sqrt(rand()) * 37;
      const candidate = { x: 60 + radius * Math.cos(angle), y: 60 + radius * Math.sin(angle) };
      const distance = Math.min(
        999,
        ...[...placed, ...points].map((p) => Math.hypot(p.x - candidate.x, p.y - candidate.y)),
      );
      if (distance > bestDistance) [best, bestDistance] = [candidate, distance];
    }
    points.push(best);
  }
  placed.push(...points);
  return points;
}

/** The drawing, to be updated with `update(size, extras)` (extras in a stable order). */
export function pizzaArt(pizza: Drawable): {
  element: SVGElement;
  update(size: PizzaSize, extras: readonly string[]): void;
} {
  const pie = svg('g', { class: 'pie size-medium' });
  const toppings = svg('g', {});
  const crust = [
    svg('circle', { cx: 60, cy: 60, r: 56, fill: '#e3a85d' }),
    svg('circle', { cx: 60, cy: 60, r: 56, fill: 'none', stroke: '#c98a3e', 'stroke-width': 2 }),
    svg('circle', {
      cx: 60,
      cy: 60,
      r: 50.5,
      fill: 'none',
      stroke: '#f0c585',
      'stroke-width': 2.2,
      opacity: 0.8,
    }),
    svg('circle', { cx: 60, cy: 60, r: 47, fill: '#cf4b2e' }),
    svg('path', {
      d: 'M60 17 C78 17 99 28 102 52 C105 75 94 97 66 102 C43 106 22 96 18 72 C14 46 33 17 60 17z',
      fill: '#f5cf6c',
    }),
    svg('circle', { cx: 45, cy: 40, r: 5, fill: '#f9dc8a', opacity: 0.9 }),
    svg('circle', { cx: 80, cy: 74, r: 6, fill: '#eeb94e', opacity: 0.6 }),
  ];
  pie.append(...crust, toppings);
  const art = svg(
    'svg',
    { class: 'pizza-art', viewBox: '0 0 120 120', 'aria-hidden': 'true', focusable: 'false' },
    svg('ellipse', { cx: 60, cy: 112, rx: 46, ry: 5, fill: '#3b1f1222' }),
    pie,
  );
  const base = recipeOf(pizza);

  function update(size: PizzaSize, extras: readonly string[]): void {
    pie.setAttribute('class', `pie size-${size}`);
    const placed: Point[] = [];
    const groups: SVGElement[] = [];
    for (const [index, topping] of [...base, ...extras].entries()) {
      const isExtra = index >= base.length;
      const rand = random(hash(`${pizza.name}|${topping}|${isExtra}`));
      const count = isExtra ? 5 : Math.max(4, Math.round(12 / base.length) + 2);
      for (const point of scatter(rand, count, placed)) {
        groups.push(
          svg(
            'g',
            {
              transform: `translate(${point.x.toFixed(1)} ${point.y.toFixed(1)}) rotate(${Math.round(rand() * 360)})`,
              class: isExtra ? 'extra' : undefined,
            },
            glyphOf(topping)(rand),
          ),
        );
      }
    }
    toppings.replaceChildren(...groups);
  }
  update('medium', []);
  return { element: art, update };
}
