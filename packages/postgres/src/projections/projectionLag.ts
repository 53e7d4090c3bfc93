// How far behind each projection version is: for health checks and dashboards.
import { type LogPosition, logPosition, startOfLog } from '@myelin/core';
import type { Database } from '../database/database.ts';
import { partitionOf } from '../subscriptions/partitions.ts';
import { subscriptionsOfRow } from './projectionSubscription.ts';

/** How far behind a projection is. */
export interface ProjectionLag {
  readonly name: string;
  readonly version: number;
  readonly mode: 'inline' | 'async';
  readonly status: 'building' | 'active';
  /** Where it has read to, and the log's last position. */
  readonly checkpoint: LogPosition;
  readonly head: LogPosition;
  /** Events of its types after its checkpoint. */
  readonly pendingEvents: number;
  /** How long ago the oldest of those occurred, in ms (0 when none). */
  readonly oldestPendingAgeMs: number;
}

/** The lag of every projection version not retired (for health checks and the dashboard). */
export async function projectionLag(database: Database): Promise<readonly ProjectionLag[]> {
  const s = database.schema;
  const { rows } = await database.query<{
    name: string;
    version: number;
    mode: 'inline' | 'async';
    status: 'building' | 'active';
    tx: string;
    seq: string;
    pending: number;
    age_ms: number | null;
    head: string | null;
  }>(
    // Per subscription (each partition's, for a partitioned version): its checkpoint and the events after it in
    // its part of the log; per version: the least checkpoint, and the sums.
    `SELECT p.name, p.version, p.mode, p.status,
       (array_agg(part.tx::text ORDER BY part.tx, part.seq))[1] AS tx,
       (array_agg(part.seq::text ORDER BY part.tx, part.seq))[1] AS seq,
       sum(pending.n)::int AS pending, max(pending.age_ms) AS age_ms,
       (SELECT transaction_id::text || '.' || sequence::text FROM ${s}.events
        ORDER BY transaction_id DESC, sequence DESC LIMIT 1) AS head
     FROM ${s}.projections p
     CROSS JOIN LATERAL (
       SELECT n.k, coalesce(sub.transaction_id, '0') AS tx, coalesce(sub.sequence, 0) AS seq
       FROM ${subscriptionsOfRow} n LEFT JOIN ${s}.subscriptions sub ON sub.name = n.name
     ) part
     CROSS JOIN LATERAL (
       SELECT count(*)::int AS n, (extract(epoch FROM now() - min(e.occurred_at)) * 1000)::float8 AS age_ms
       FROM ${s}.events e
       WHERE (e.transaction_id, e.sequence) > (part.tx, part.seq)
         AND e.type IN (SELECT jsonb_array_elements_text(p.types))
         AND (p.partitions = 1 OR ${partitionOf('e.stream_id', 'p.partitions')} = part.k)
     ) pending
     WHERE p.status <> 'retired'
     GROUP BY p.name, p.version, p.mode, p.status ORDER BY p.name, p.version`,
  );
  return rows.map((row) => ({
    name: row.name,
    version: row.version,
    mode: row.mode,
    status: row.status,
    checkpoint: logPosition(row.tx, row.seq),
    head: (row.head ?? startOfLog) as LogPosition,
    pendingEvents: row.pending,
    oldestPendingAgeMs: Math.max(0, Math.round(row.age_ms ?? 0)),
  }));
}
