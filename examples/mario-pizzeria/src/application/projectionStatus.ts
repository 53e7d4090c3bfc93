import { type Database, type Projection, projectionLag } from '@myelin/postgres';

/**
 * Waits until each of these projections has a version serving (active). A new version is built by a projection
 * daemon before it serves: on a fresh database that takes a moment, and an inline read model read before then
 * would not yet show a command's writes. A process running a daemon waits a moment; an API process waits for a
 * projector to do it.
 */
export async function untilServing(
  database: Database,
  projections: readonly Projection[],
  options: { readonly signal?: AbortSignal; readonly onWait?: (waitingFor: readonly string[]) => void } = {},
): Promise<void> {
  let reported = 0;
  const started = Date.now();
  for (;;) {
    const active = new Set(
      (await projectionLag(database)).filter((lag) => lag.status === 'active').map((lag) => lag.name),
    );
    const waiting = projections.map((p) => p.name).filter((name) => !active.has(name));
    if (waiting.length === 0) return;
    options.signal?.throwIfAborted();
    // Every 5 s, say what it waits for: an API process started without any projector would wait forever.
    if (Date.now() - started >= (reported + 1) * 5000) {
      options.onWait?.(waiting);
      reported++;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
