import type { Projection } from '@myelin/core';
import type { Database } from '../database/database.ts';
import { listenForCommits } from '../subscriptions/commitListener.ts';
import { progressSignal } from '../subscriptions/logSignal.ts';
import { projectionLag } from './projectionLag.ts';

export interface UntilServingOptions {
  /** Gives up (rejects) when aborted. */
  readonly signal?: AbortSignal;
  /** Told, every `reportEveryMs`, which projections it still waits for: a process with no daemon would wait forever. */
  readonly onWait?: (waitingFor: readonly string[]) => void;
  /** Defaults to 5 s. */
  readonly reportEveryMs?: number;
}

/**
 * Waits until each of these projections has a version serving (active). A new version with events to catch up on
 * is built by a projection daemon before it serves, and a read model read before then would not show a command's
 * writes: a process starts taking traffic once this resolves. It is woken by the daemons' progress, in this
 * process and (through the commit listener) in others, not by polling.
 * @example await untilServing(database, [orderSummaries], { onWait: (names) => console.log('waiting for', names) });
 */
export async function untilServing(
  database: Database,
  projections: readonly Projection[],
  options: UntilServingOptions = {},
): Promise<void> {
  const reportEveryMs = options.reportEveryMs ?? 5000;
  const progress = progressSignal(database);
  let lastReport = Date.now();
  let stopListening: (() => Promise<void>) | undefined;
  try {
    for (;;) {
      const seen = progress.generation;
      const active = new Set(
        (await projectionLag(database)).filter((lag) => lag.status === 'active').map((lag) => lag.name),
      );
      const waiting = projections.map((p) => p.name).filter((name) => !active.has(name));
      if (waiting.length === 0) return;
      options.signal?.throwIfAborted();
      if (Date.now() - lastReport >= reportEveryMs) {
        options.onWait?.(waiting);
        lastReport = Date.now();
      }
      stopListening ??= await listenForCommits(database);
      // Woken by a daemon's batch (a switch to active is one); the second is for a notification lost.
      await progress.wait(Math.min(1000, reportEveryMs), options.signal, seen);
    }
  } finally {
    await stopListening?.();
  }
}
