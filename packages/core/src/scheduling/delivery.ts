// Executing a scheduled command when it comes due: the same for every scheduler.
import { context } from '@opentelemetry/api';
import type { Application } from '../application/application.ts';
import type { Request } from '../messages/message.ts';
import { contextOf } from '../observability/traceContext.ts';
import { type ScheduledMessage, ScheduledMessageGoneError } from './schedule.ts';

/** How a scheduler retries. */
export interface MessageSchedulerOptions {
  /** Failed deliveries of one message before it is parked; defaults to 5. */
  readonly maxAttempts?: number;
  /** The wait before the first retry, doubled after each failure; defaults to 1000 ms. */
  readonly backoffMs?: number;
  /** The longest wait between two retries; defaults to 5 minutes. */
  readonly maxBackoffMs?: number;
  /**
   * How long a scheduled command may run before it is given up (counted as a failed attempt, and retried): a
   * handler that hangs must not hold a delivery slot, or `stop()`, for ever. Should it finish later, it takes effect
   * once all the same (its unit of work removes the message, which a retry then finds gone). Defaults to 5 minutes.
   */
  readonly handlerTimeoutMs?: number;
  /** Told of each failed delivery and each refusal; defaults to the application's `Logger`, else the console. */
  readonly onError?: (error: unknown, message: string) => void;
}

/** The longest timer Node keeps: a longer one fires at once. */
const maxTimerMs = 2 ** 31 - 1;

/**
 * `MessageSchedulerOptions.handlerTimeoutMs` checked, or its default (5 minutes). A timer past 2^31 - 1 ms fires at
 * once in Node: "no limit" written as a huge number would give up every command at once. @internal For schedulers.
 */
export function handlerTimeoutOf(value: number | undefined, scheduler: string): number {
  const ms = value ?? 5 * 60_000;
  if (!(Number.isFinite(ms) && ms > 0 && ms <= maxTimerMs)) {
    throw new RangeError(
      `${scheduler}: handlerTimeoutMs must be a positive number up to ${maxTimerMs}, not ${ms}`,
    );
  }
  return ms;
}

/** What became of one delivery. */
export type DeliveryOutcome =
  /** It took effect: its unit of work removed the message as it committed. */
  | { readonly outcome: 'delivered' }
  /** It was answered with a refusal (a 4xx other than a conflict): it will not be tried again. */
  | { readonly outcome: 'refused'; readonly detail: string }
  /** Another delivery took effect first, or it was cancelled: nothing to do. */
  | { readonly outcome: 'gone' }
  /** It failed (an exception, a 5xx, a conflict): it is tried again later. */
  | { readonly outcome: 'failed'; readonly error: string };

/**
 * Executes a scheduled command as the principal who scheduled it, in the conversation that scheduled it. Its unit
 * of work removes the scheduled message in the transaction of its effects (see `ExecuteOptions.scheduled`).
 * @internal For schedulers.
 */
export async function executeScheduled(
  app: Application,
  message: ScheduledMessage,
  options: { readonly timeoutMs?: number } = {},
): Promise<DeliveryOutcome> {
  const running = execute(app, message);
  const timeoutMs = options.timeoutMs;
  if (timeoutMs === undefined) return running;
  // Wall time, not the application's clock: a hang is the machine's, whatever a test clock says.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const givenUp = new Promise<DeliveryOutcome>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          outcome: 'failed',
          error: `it did not finish within ${timeoutMs} ms (handlerTimeoutMs): given up and tried again later`,
        }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([running, givenUp]);
  } finally {
    clearTimeout(timer);
  }
}

async function execute(app: Application, message: ScheduledMessage): Promise<DeliveryOutcome> {
  const definition = app.messages.get(message.type);
  if (definition === undefined || definition.kind !== 'command') {
    return { outcome: 'failed', error: `This application handles no command '${message.type}'` };
  }
  try {
    const command = new definition(message.payload as never) as Request<unknown>;
    // In the trace of the execution that scheduled it, however long ago, as an event's delivery continues its own.
    const result = await context.with(contextOf(message), () =>
      app.mediator.execute(command, {
        messageId: message.messageId,
        correlationId: message.correlationId,
        causationId: message.causationId,
        principal: message.principal,
        scheduled: message.id,
      }),
    );
    if (result.ok) return { outcome: 'delivered' };
    const { status, detail, title } = result.problem;
    if (status === 409 || status >= 500) return { outcome: 'failed', error: `${status}: ${detail ?? title}` };
    return { outcome: 'refused', detail: `${status}: ${detail ?? title}` };
  } catch (error) {
    if (error instanceof ScheduledMessageGoneError) return { outcome: 'gone' };
    return { outcome: 'failed', error: error instanceof Error ? error.message : String(error) };
  }
}

/** The wait before the next attempt after `attempts` failures: doubling from `backoffMs`, at most `maxMs`. */
export function retryDelay(attempts: number, backoffMs: number, maxMs: number): number {
  return Math.min(backoffMs * 2 ** Math.max(0, attempts - 1), maxMs);
}
