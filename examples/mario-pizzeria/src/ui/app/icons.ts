// Line icons drawn on a 24×24 grid, in the text's colour; decorative unless given a label.
import { svg } from './dom.ts';

/** Each icon: the `d` of its paths (and circles as [cx, cy, r]). */
const shapes = {
  close: ['M6 6l12 12', 'M18 6L6 18'],
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  alert: ['M12 3.5l9.5 16.5h-19z', 'M12 10v4.5', 'M12 17.6v.1'],
  info: [[12, 12, 9], 'M12 11v5.5', 'M12 7.6v.1'],
  plus: ['M12 5v14', 'M5 12h14'],
  minus: ['M5 12h14'],
  trash: ['M4 7h16', 'M9.5 7V4.5h5V7', 'M6.5 7l1 13h9l1-13', 'M10 11v5.5', 'M14 11v5.5'],
  clock: [[12, 12, 9], 'M12 7.5V12l3 2'],
  phone: [
    'M5 4h3.5l1.7 4.3-2.2 1.4a11 11 0 0 0 6.3 6.3l1.4-2.2L20 15.5V19a1.5 1.5 0 0 1-1.6 1.5A16.5 16.5 0 0 1 3.5 5.6 1.5 1.5 0 0 1 5 4z',
  ],
  pin: ['M12 21s-6.5-5.6-6.5-11a6.5 6.5 0 0 1 13 0c0 5.4-6.5 11-6.5 11z', [12, 10, 2.3]],
  note: ['M5 4h10l4 4v12H5z', 'M15 4v4h4', 'M8.5 12.5h7', 'M8.5 16h5'],
  user: [[12, 8, 4], 'M4.5 20.5c1.2-3.8 4.1-5.6 7.5-5.6s6.3 1.8 7.5 5.6'],
  logout: ['M14 4h5v16h-5', 'M10 8l-4 4 4 4', 'M6 12h10'],
  lock: ['M6 11h12v9H6z', 'M8.5 11V8a3.5 3.5 0 0 1 7 0v3'],
  arrow: ['M5 12h14', 'M13 6l6 6-6 6'],
  receipt: ['M6 3h12v18l-2-1.4-2 1.4-2-1.4-2 1.4-2-1.4L6 21z', 'M9 8h6', 'M9 12h6', 'M9 16h3.5'],
  pizza: [
    'M12 21L3.5 6.5a13 13 0 0 1 17 0z',
    'M5.3 9.6a10 10 0 0 1 13.4 0',
    [10, 11.5, 1.2],
    [14, 13.5, 1.2],
    [12, 17, 1],
  ],
  hat: [
    'M7 14.5h10V20H7z',
    'M7 14.5a4.3 4.3 0 0 1-1.3-8.2A4.8 4.8 0 0 1 12 3.5a4.8 4.8 0 0 1 6.3 2.8 4.3 4.3 0 0 1-1.3 8.2',
    'M7 17.5h10',
  ],
  flame: [
    'M12 21c-3.9 0-6.5-2.6-6.5-6.2 0-3.6 2.6-5.4 3.6-8.8 1.9 1.3 2.7 3 2.7 4.7 1-.6 1.6-1.8 1.7-3.2 2.1 1.7 5 4.3 5 7.3 0 3.6-2.6 6.2-6.5 6.2z',
    'M12 21c-1.7 0-2.8-1.1-2.8-2.7 0-1.7 1.4-2.6 2.8-4.3 1.4 1.7 2.8 2.6 2.8 4.3 0 1.6-1.1 2.7-2.8 2.7z',
  ],
  bag: ['M5 8h14l-1 12.5H6z', 'M9 10.5V6.5a3 3 0 0 1 6 0v4'],
  scooter: [
    [6, 17.5, 2.5],
    [18, 17.5, 2.5],
    'M8.5 17.5h7',
    'M15.5 17.5L13.5 9h-3',
    'M13.5 9h3.5l1 8.5',
    'M3.5 13.5h6.5l1.5 4',
  ],
  home: ['M4 11l8-7 8 7', 'M6 9.5V20h12V9.5', 'M10 20v-5.5h4V20'],
  ban: [[12, 12, 9], 'M5.7 5.7l12.6 12.6'],
  chart: ['M4 20V4', 'M4 20h16', 'M8 16v-5', 'M12 16V8', 'M16 16v-3'],
  menu: ['M5 6h14', 'M5 12h14', 'M5 18h9'],
  edit: ['M4 20h4L19 9l-4-4L4 16z', 'M13.5 6.5l4 4'],
  spark: [
    'M12 3v4',
    'M12 17v4',
    'M3 12h4',
    'M17 12h4',
    'M6 6l2.5 2.5',
    'M15.5 15.5L18 18',
    'M18 6l-2.5 2.5',
    'M8.5 15.5L6 18',
  ],
};

export type IconName = keyof typeof shapes;

export interface IconOptions {
  /** What the icon says, for a screen reader; without one it is decorative. */
  readonly label?: string | undefined;
  readonly size?: number;
  readonly class?: string;
}

export function icon(name: IconName, { label, size = 20, class: className }: IconOptions = {}): SVGElement {
  const parts = (shapes[name] as readonly (string | readonly number[])[]).map((shape) =>
    typeof shape === 'string'
      ? svg('path', { d: shape })
      : svg('circle', { cx: shape[0], cy: shape[1], r: shape[2] }),
  );
  return svg(
    'svg',
    {
      class: ['icon', className],
      viewBox: '0 0 24 24',
      width: size,
      height: size,
      fill: 'none',
      stroke: 'currentColor',
      'stroke-width': 1.9,
      'stroke-linecap': 'round',
      'stroke-linejoin': 'round',
      focusable: 'false',
      ...(label === undefined ? { 'aria-hidden': 'true' } : { role: 'img', 'aria-label': label }),
    },
    label === undefined ? null : svg('title', {}, label),
    parts,
  );
}
