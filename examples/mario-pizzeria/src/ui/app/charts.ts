// Charts drawn as SVG by hand: bars for orders per status, bars and a line for revenue per day. Each is an image
// with a text alternative that says what it shows.
import { type Child, svg } from './dom.ts';
import { dayLabel, money } from './format.ts';

/** The chart's height in pixels; its width is the box's, so that text is drawn at its size, never scaled. */
export const chartHeight = 240;

/** An axis from 0 to 4 "nice" steps (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten) above the largest value. */
function niceMax(value: number): number {
  if (value <= 0) return 4;
  const quarter = value / 4;
  const power = 10 ** Math.floor(Math.log10(quarter));
  const step = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((s) => quarter <= s * power) ?? 10;
  return 4 * step * power;
}

/** One bar of a bar chart. */
export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly className: string;
}

/** A chart's title (what it says to a screen reader), test id and width in pixels. */
export interface ChartOptions {
  readonly title: string;
  readonly testid: string;
  readonly width: number;
}

/** A day's revenue, in dollars. */
export interface DayRevenue {
  readonly day: string;
  readonly revenue: number;
}

/** Bars, one per category: standing up when there is room for their labels, lying down on a narrow screen. */
export function barChart(data: readonly Bar[], { title, testid, width }: ChartOptions): SVGElement {
  const height = chartHeight;
  const description = data.map((d) => `${d.label}: ${d.value}`).join(', ');
  const most = Math.max(1, ...data.map((d) => d.value));
  const root = (...children: Child[]): SVGElement =>
    svg(
      'svg',
      {
        class: 'chart',
        width,
        height,
        viewBox: `0 0 ${width} ${height}`,
        role: 'img',
        'aria-label': `${title}. ${description}`,
        testid,
      },
      children,
    );
  const bar = (d: Bar, children: Child): SVGElement =>
    svg(
      'g',
      { class: ['chart-bar', d.className], testid: `bar-${d.className}`, 'data-value': d.value },
      svg('title', {}, `${d.label}: ${d.value}`),
      children,
    );

  if (width < 440) {
    const labelWidth = 92;
    const row = (height - 8) / data.length;
    const barSpace = width - labelWidth - 44;
    return root(
      data.map((d, i) => {
        const y = 4 + row * i;
        const length = d.value === 0 ? 0 : Math.max(4, (d.value / most) * barSpace);
        return bar(d, [
          svg(
            'text',
            { class: 'chart-label', x: labelWidth - 10, y: y + row / 2 + 4, 'text-anchor': 'end' },
            d.label,
          ),
          svg('rect', { x: labelWidth, y: y + row * 0.2, width: length, height: row * 0.6, rx: 5 }),
          svg(
            'text',
            { class: 'chart-value', x: labelWidth + length + 8, y: y + row / 2 + 5 },
            String(d.value),
          ),
        ]);
      }),
    );
  }
  const pad = { top: 28, right: 8, bottom: 36, left: 8 };
  const innerHeight = height - pad.top - pad.bottom;
  const slot = (width - pad.left - pad.right) / data.length;
  const barWidth = Math.min(56, slot * 0.6);
  return root(
    svg('line', {
      class: 'chart-axis',
      x1: pad.left,
      x2: width - pad.right,
      y1: height - pad.bottom + 0.5,
      y2: height - pad.bottom + 0.5,
    }),
    data.map((d, i) => {
      const barHeight = d.value === 0 ? 0 : Math.max(4, (d.value / most) * innerHeight);
      const x = pad.left + slot * i + (slot - barWidth) / 2;
      const y = height - pad.bottom - barHeight;
      return bar(d, [
        svg('rect', { x, y, width: barWidth, height: barHeight, rx: 6 }),
        svg(
          'text',
          { class: 'chart-value', x: x + barWidth / 2, y: y - 8, 'text-anchor': 'middle' },
          String(d.value),
        ),
        svg(
          'text',
          { class: 'chart-label', x: x + barWidth / 2, y: height - pad.bottom + 22, 'text-anchor': 'middle' },
          d.label,
        ),
      ]);
    }),
  );
}

/** The days from the first with revenue (at least a week back) to today, the quiet ones at zero. */
export function fillDays(revenueByDay: readonly DayRevenue[], today: Date = new Date()): DayRevenue[] {
  const byDay = new Map(revenueByDay.map((d) => [d.day, d.revenue]));
  const end = new Date(Date.UTC(today.getFullYear(), today.getMonth(), today.getDate()));
  const lastGiven = revenueByDay
    .map((d) => d.day)
    .sort()
    .at(-1);
  if (lastGiven !== undefined && new Date(`${lastGiven}T00:00:00Z`) > end)
    end.setTime(new Date(`${lastGiven}T00:00:00Z`).getTime());
  const first = revenueByDay.map((d) => d.day).sort()[0];
  const weekAgo = new Date(end.getTime() - 6 * 86_400_000);
  let start = first === undefined ? weekAgo : new Date(`${first}T00:00:00Z`);
  if (start > weekAgo) start = weekAgo;
  // At most a month, so the bars stay readable.
  const monthAgo = new Date(end.getTime() - 29 * 86_400_000);
  if (start < monthAgo) start = monthAgo;
  const days: DayRevenue[] = [];
  for (let t = start.getTime(); t <= end.getTime(); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    days.push({ day, revenue: byDay.get(day) ?? 0 });
  }
  return days;
}

/** Revenue per day: bars, a line through their tops, dollar gridlines. */
export function revenueChart(
  revenueByDay: readonly DayRevenue[],
  { title, testid, width }: ChartOptions,
): SVGElement {
  const days = fillDays(revenueByDay);
  const height = chartHeight;
  const pad = { top: 20, right: 14, bottom: 34, left: 54 };
  const innerWidth = width - pad.left - pad.right;
  const innerHeight = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(...days.map((d) => d.revenue)));
  const slot = innerWidth / days.length;
  const barWidth = Math.max(4, slot * 0.58);
  const x = (i: number): number => pad.left + slot * i + slot / 2;
  const y = (value: number): number => pad.top + innerHeight - (value / max) * innerHeight;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(innerWidth / 58))));
  const line = days
    .map((d, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)} ${y(d.revenue).toFixed(1)}`)
    .join(' ');
  const area = `${line} L${x(days.length - 1).toFixed(1)} ${y(0)} L${x(0).toFixed(1)} ${y(0)} Z`;
  const total = days.reduce((sum, d) => sum + d.revenue, 0);
  const best = days.reduce((a, b) => (b.revenue > a.revenue ? b : a), days[0] as DayRevenue);
  return svg(
    'svg',
    {
      class: 'chart',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': `${title}: ${money(total)} over ${days.length} days${best.revenue > 0 ? `; best day ${dayLabel(best.day)} with ${money(best.revenue)}` : ''}.`,
      testid,
    },
    svg(
      'defs',
      {},
      svg(
        'linearGradient',
        { id: 'revenue-fill', x1: 0, x2: 0, y1: 0, y2: 1 },
        svg('stop', { offset: '0%', 'stop-color': '#c8372d', 'stop-opacity': 0.22 }),
        svg('stop', { offset: '100%', 'stop-color': '#c8372d', 'stop-opacity': 0 }),
      ),
    ),
    ticks.map((tick) =>
      svg(
        'g',
        { class: 'chart-grid' },
        svg('line', { x1: pad.left, x2: width - pad.right, y1: y(tick) + 0.5, y2: y(tick) + 0.5 }),
        svg(
          'text',
          { class: 'chart-label', x: pad.left - 8, y: y(tick) + 4, 'text-anchor': 'end' },
          compactMoney(tick),
        ),
      ),
    ),
    days.map((d, i) =>
      svg(
        'g',
        { class: 'chart-day', 'data-day': d.day, 'data-value': d.revenue },
        svg('title', {}, `${dayLabel(d.day)}: ${money(d.revenue)}`),
        svg('rect', { class: 'chart-hit', x: x(i) - slot / 2, y: pad.top, width: slot, height: innerHeight }),
        svg('rect', {
          class: 'revenue-bar',
          x: x(i) - barWidth / 2,
          y: y(d.revenue),
          width: barWidth,
          height: y(0) - y(d.revenue),
          rx: Math.min(4, barWidth / 3),
        }),
        i % labelEvery === (days.length - 1) % labelEvery
          ? svg(
              'text',
              { class: 'chart-label', x: x(i), y: height - pad.bottom + 20, 'text-anchor': 'middle' },
              dayLabel(d.day),
            )
          : null,
      ),
    ),
    svg('path', { class: 'revenue-area', d: area, fill: 'url(#revenue-fill)' }),
    svg('path', { class: 'revenue-line', d: line }),
    days.map((d, i) =>
      d.revenue > 0 ? svg('circle', { class: 'revenue-point', cx: x(i), cy: y(d.revenue), r: 3.5 }) : null,
    ),
  );
}

function compactMoney(value: number): string {
  if (value >= 1000) return `$${(value / 1000).toFixed(value % 1000 === 0 ? 0 : 1)}k`;
  return `$${Math.round(value)}`;
}
