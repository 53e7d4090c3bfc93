/** The subscription (checkpoint and lease) of a version of a projection, or of one of its partitions. */
export function projectionSubscription(name: string, version: number, partition?: number): string {
  const base = `projection:${name}:v${version}`;
  return partition === undefined ? base : `${base}:p${partition}`;
}

/** The same name in SQL, for a row of `projections` aliased `p` (an unpartitioned version's only subscription). */
export const subscriptionOfRow = `'projection:' || p.name || ':v' || p.version`;

/**
 * The subscriptions of the row of `projections` aliased `p`, as SQL rows (`k`, the partition, and `name`): the
 * version's own when it has one partition, each partition's otherwise.
 */
export const subscriptionsOfRow = `(SELECT k, ${subscriptionOfRow}
    || CASE WHEN p.partitions = 1 THEN '' ELSE ':p' || k END AS name
  FROM generate_series(0, p.partitions - 1) AS k)`;
