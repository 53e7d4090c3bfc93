import { type Behavior, BehaviorOrder, behavior } from '../mediation/behavior.ts';
import type { StoredEvent } from '../persistence/eventStore.ts';
import { type ConcurrencyError, isConcurrencyError } from '../persistence/repository.ts';
import { UnitOfWork } from '../persistence/unitOfWork.ts';
import { personalDataOf } from '../personalData/personalData.ts';
import { conflict } from '../results/operationResult.ts';

/** Re-runs a command whose commit met a concurrent change, instead of answering 409 at once. */
export interface RetryPolicy {
  /** How many times to re-run the handler after the first conflict (0 = never). */
  readonly retries: number;
  /** The first wait, doubled each time, with jitter so racing commands spread out; defaults to 5 ms. */
  readonly backoffMs?: number;
}

export interface UnitOfWorkOptions {
  /**
   * Opt-in: re-run the handler when its commit fails on a concurrent change. Safe because nothing a handler does
   * through repositories is written before the commit; a handler with other side effects must tolerate re-runs.
   */
  readonly retryOnConflict?: RetryPolicy;
}

/**
 * Makes each command one unit of work: commit when the handler succeeds, roll back when it returns a failure or
 * throws. A concurrent change detected at commit becomes a 409 Conflict result (after the retries, if any).
 * Persistence modules register it.
 */
export function unitOfWork(options: UnitOfWorkOptions = {}): Behavior {
  const retries = options.retryOnConflict?.retries ?? 0;
  const backoffMs = options.retryOnConflict?.backoffMs ?? 5;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new TypeError(`retryOnConflict.retries must be a non-negative integer, not ${retries}`);
  }
  return behavior(
    {
      name: 'unitOfWork',
      order: BehaviorOrder.unitOfWork,
      scope: 'commands',
      dependencies: { work: UnitOfWork },
    },
    async (_message, next, context, { work }) => {
      for (let attempt = 0; ; attempt++) {
        let result: Awaited<ReturnType<typeof next>>;
        try {
          result = await next();
        } catch (error) {
          await work.rollback();
          throw error;
        }
        if (!result.ok) {
          await work.rollback();
          return result;
        }
        let concurrencyError: ConcurrencyError;
        try {
          const { position, events } = await work.commit();
          if (position === undefined) return result;
          // The handler's own (whose data its answer shows, read rather than written), and those the events carry.
          const subjects = [...new Set([...(result.subjects ?? []), ...subjectsOf(events)])];
          return subjects.length === 0 ? { ...result, position } : { ...result, position, subjects };
        } catch (error) {
          if (!isConcurrencyError(error)) throw error;
          await work.rollback();
          concurrencyError = error;
        }
        if (attempt >= retries || context.signal.aborted) {
          return conflict(concurrencyError.message, {
            extensions: {
              expectedVersion: concurrencyError.expectedVersion,
              actualVersion: concurrencyError.actualVersion ?? null,
            },
          });
        }
        await conflictBackoff(backoffMs, attempt);
      }
    },
  );
}

/**
 * Makes each event handler's delivery one unit of work: what it changes through repositories is committed when it
 * returns, and rolled back when it throws (a failed delivery, which a durable relay retries). Persistence modules
 * register it beside {@link unitOfWork}.
 */
export function eventUnitOfWork(): Behavior {
  return behavior(
    {
      name: 'eventUnitOfWork',
      order: BehaviorOrder.unitOfWork,
      scope: 'events',
      dependencies: { work: UnitOfWork },
    },
    async (_event, next, context, { work }) => {
      const retries = context.delivery?.retryOnConflict ?? 0;
      for (let attempt = 0; ; attempt++) {
        try {
          await next();
        } catch (error) {
          await work.rollback();
          throw error;
        }
        try {
          await work.commit();
          return;
        } catch (error) {
          if (!isConcurrencyError(error) || attempt >= retries) throw error;
          await work.rollback();
        }
        await conflictBackoff(5, attempt);
      }
    },
  );
}

/** Waits before re-running after a conflict: doubling from `baseMs`, jittered so that the two sides part. */
function conflictBackoff(baseMs: number, attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, baseMs * 2 ** attempt * (0.5 + Math.random())));
}

/** The subjects whose personal data these events carry: their subject field, in clear beside the sealed fields. */
function subjectsOf(events: readonly StoredEvent[]): string[] {
  const subjects = new Set<string>();
  for (const { data, metadata } of events) {
    const personal = personalDataOf(metadata.type);
    if (personal === undefined) continue;
    const subject = (data as Record<string, unknown> | null)?.[personal.subject];
    if (typeof subject === 'string' && subject !== '') subjects.add(subject);
  }
  return [...subjects];
}
