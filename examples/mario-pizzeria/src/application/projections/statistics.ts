import { projection, type Sql, table } from '@myelin/postgres';
import {
  CookingStarted,
  DeliveryStarted,
  OrderCancelled,
  OrderDelivered,
  OrderPlaced,
  OrderReady,
} from '../../domain/orderEvents.ts';

/** One row per order, with just what the statistics aggregate over. */
export interface OrderStatsRow extends Record<string, unknown> {
  readonly id: string;
  readonly status: string;
  readonly placed_at: string;
  readonly ready_at: string | null;
  readonly total_cents: number;
  /** The names of its pizzas, one per pizza (JSON array). */
  readonly pizzas: readonly string[];
}

/**
 * A table of its own rather than documents: the statistics are SQL aggregates (counts per status, sums per day,
 * the average time to ready, the most ordered pizzas), which a table answers in one pass with no code of ours.
 */
export const OrderStats = table<OrderStatsRow>('order-stats', {
  columns: `id text PRIMARY KEY, status text NOT NULL, placed_at timestamptz NOT NULL, ready_at timestamptz,
    total_cents integer NOT NULL, pizzas jsonb NOT NULL`,
  key: ['id'],
});

/** Async: the manager's dashboard may lag the kitchen by a moment. */
export const statistics = projection(OrderStats, { mode: 'async' })
  .on(OrderPlaced, async (e, t) => {
    // Through SQL of our own for the JSON column: `::text::jsonb` reads the array the same on both drivers.
    await t.sql.query(
      `INSERT INTO ${t.table} (id, status, placed_at, total_cents, pizzas)
       VALUES ($1, 'confirmed', $2, $3, $4::text::jsonb) ON CONFLICT (id) DO NOTHING`,
      [e.orderId, e.placedAt, e.totalCents, JSON.stringify(e.items.map((item) => item.name))],
    );
  })
  .on(CookingStarted, (e, t) => setStatus(t.sql, t.table, e.orderId, 'cooking'))
  .on(OrderReady, async (e, t) => {
    await t.sql.query(`UPDATE ${t.table} SET status = 'ready', ready_at = $2 WHERE id = $1`, [
      e.orderId,
      e.at,
    ]);
  })
  .on(DeliveryStarted, (e, t) => setStatus(t.sql, t.table, e.orderId, 'delivering'))
  .on(OrderDelivered, (e, t) => setStatus(t.sql, t.table, e.orderId, 'delivered'))
  .on(OrderCancelled, (e, t) => setStatus(t.sql, t.table, e.orderId, 'cancelled'));

async function setStatus(sql: Sql, target: string, id: string, status: string): Promise<void> {
  await sql.query(`UPDATE ${target} SET status = $2 WHERE id = $1`, [id, status]);
}
