/** The subscription (checkpoint and lease) of a version of a projection. */
export function projectionSubscription(name: string, version: number): string {
  return `projection:${name}:v${version}`;
}

/** The same name in SQL, for a row of `projections` aliased `p`: to join it with its subscription. */
export const subscriptionOfRow = `'projection:' || p.name || ':v' || p.version`;
