import { handler, ok } from '@myelin/core';
import { dollars } from '../../domain/money.ts';
import { type OrderStatus, orderStatuses } from '../../domain/order.ts';
import { OrderStats } from '../projections/statistics.ts';
import { GetStatistics } from '../queries/getStatistics.ts';

/** The days of revenue the dashboard charts. */
const days = 30;

/**
 * Aggregates in SQL over the statistics table. Money is summed in cents, as float8 so that both drivers return
 * a number (exact up to 2^53 cents), and shown in dollars.
 */
export const getStatistics = handler(GetStatistics, { stats: OrderStats }, async (_q, { stats }) => {
  const t = stats.table;
  const [byStatus, totals, top, byDay] = await Promise.all([
    stats.query<{ status: OrderStatus; n: number }>(
      `SELECT status, count(*)::int AS n FROM ${t} GROUP BY status`,
    ),
    stats.query<{ revenue: number; minutes: number | null }>(
      `SELECT coalesce(sum(total_cents) FILTER (WHERE status <> 'cancelled'), 0)::float8 AS revenue,
         (avg(extract(epoch FROM ready_at - placed_at)) FILTER (WHERE ready_at IS NOT NULL) / 60)::float8
           AS minutes
       FROM ${t}`,
    ),
    stats.query<{ name: string; count: number }>(
      `SELECT pizza AS name, count(*)::int AS count FROM ${t}, jsonb_array_elements_text(pizzas) AS pizza
       WHERE status <> 'cancelled' GROUP BY pizza ORDER BY count DESC, pizza LIMIT 5`,
    ),
    stats.query<{ day: string; revenue: number }>(
      `SELECT to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, sum(total_cents)::float8 AS revenue
       FROM ${t} WHERE status <> 'cancelled' GROUP BY day ORDER BY day DESC LIMIT ${days}`,
    ),
  ]);
  const ordersByStatus = Object.fromEntries(orderStatuses.map((s) => [s, 0])) as Record<OrderStatus, number>;
  for (const row of byStatus) ordersByStatus[row.status] = row.n;
  const minutes = totals[0]?.minutes ?? null;
  return ok({
    ordersByStatus,
    revenue: dollars(totals[0]?.revenue ?? 0),
    topPizzas: top,
    averageMinutesToReady: minutes === null ? null : Math.round(minutes * 10) / 10,
    revenueByDay: byDay.reverse().map((row) => ({ day: row.day, revenue: dollars(row.revenue) })),
  });
});
