import type { Application } from '../application/application.ts';
import { reportErrors } from '../behaviors/logging.ts';
import type { AnyEvent } from '../messages/message.ts';
import { Clock, TestClock } from '../scheduling/clock.ts';
import {
  executeScheduled,
  handlerTimeoutOf,
  type MessageSchedulerOptions,
  retryDelay,
} from '../scheduling/delivery.ts';
import type { ScheduledMessage } from '../scheduling/schedule.ts';
import type { InMemoryDatabase } from './inMemoryDatabase.ts';
import { type InMemoryProtection, protectionOf } from './inMemoryPersonalData.ts';
import { InMemoryDatabaseToken, scheduledCollection } from './inMemoryUnitOfWork.ts';

/**
 * Delivers the messages an application on `inMemoryPersistence` scheduled, when its clock says they are due: a
 * command is executed (its unit of work removes the message as it commits), an event is written to the log and
 * published to the handlers in process. With a `TestClock`, `await clock.advance(ms)` returns once everything
 * that came due has been delivered.
 * @example await using scheduler = new InMemoryMessageScheduler(app).start(); await clock.advance(10 * 60_000);
 */
export class InMemoryMessageScheduler {
  readonly #app: Application;
  readonly #database: InMemoryDatabase;
  readonly #protection: InMemoryProtection;
  readonly #clock: Clock;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #handlerTimeoutMs: number;
  readonly #onError: (error: unknown, message: string) => void;
  #stopping = new AbortController();
  #running: Promise<void> | undefined;
  #unlisten: (() => void) | undefined;
  /** Deliveries take turns: the loop and a test's `advance` never deliver one message twice at once. */
  #turn: Promise<void> = Promise.resolve();

  constructor(app: Application, options: MessageSchedulerOptions = {}) {
    this.#app = app;
    this.#database = app.container.root.resolve(InMemoryDatabaseToken);
    this.#protection = protectionOf(app, this.#database);
    this.#clock = app.container.root.resolve(Clock);
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#backoffMs = options.backoffMs ?? 1000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
    this.#handlerTimeoutMs = handlerTimeoutOf(options.handlerTimeoutMs, 'InMemoryMessageScheduler');
    this.#onError = options.onError ?? reportErrors(app, 'scheduler');
  }

  start(): this {
    if (this.#running === undefined) {
      this.#stopping = new AbortController();
      if (this.#clock instanceof TestClock) this.#unlisten = this.#clock.onAdvance(() => this.deliverDue());
      this.#running = this.#run(this.#stopping.signal);
    }
    return this;
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#unlisten?.();
    await this.#running;
    await this.#turn;
    this.#running = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The messages waiting (scheduled or parked), soonest first. */
  pending(): ScheduledMessage[] {
    return this.#database
      .documents(scheduledCollection)
      .map((document) => document.state as ScheduledMessage)
      .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
  }

  /** Delivers every message due now, one at a time, soonest first. */
  deliverDue(): Promise<void> {
    const turn = this.#turn.then(async () => {
      for (;;) {
        const now = this.#clock.now().getTime();
        const due = this.pending().filter((m) => m.status === 'scheduled' && m.dueAt.getTime() <= now);
        if (due.length === 0) return;
        for (const message of due) await this.#deliver(message);
      }
    });
    this.#turn = turn.catch(() => {});
    return turn;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const seen = this.#database.generation;
      try {
        await this.deliverDue();
      } catch (error) {
        this.#onError(error, 'scheduler');
      }
      // Stopped while delivering: a listener added to an aborted signal would never be called.
      if (signal.aborted) return;
      const next = this.pending().find((m) => m.status === 'scheduled');
      const untilDue = next === undefined ? 60_000 : next.dueAt.getTime() - this.#clock.now().getTime();
      // Until the next message is due on the clock, or a commit (which may have scheduled a sooner one).
      const woken = new AbortController();
      const stop = () => woken.abort();
      signal.addEventListener('abort', stop, { once: true });
      await Promise.race([
        this.#clock.sleep(Math.max(0, untilDue), woken.signal),
        this.#database.waitForChange(seen, 60_000, woken.signal),
      ]);
      woken.abort();
      signal.removeEventListener('abort', stop);
    }
  }

  async #deliver(message: ScheduledMessage): Promise<void> {
    if (message.kind === 'event') {
      await this.#write(message);
      return;
    }
    const delivery = await executeScheduled(this.#app, message, { timeoutMs: this.#handlerTimeoutMs });
    if (delivery.outcome === 'delivered' || delivery.outcome === 'gone') return;
    if (delivery.outcome === 'refused') {
      this.#onError(new Error(`${message.type} was refused: ${delivery.detail}`), message.id);
      await this.#settle(message, undefined);
      return;
    }
    const attempts = message.attempts + 1;
    this.#onError(new Error(`${message.type} failed (attempt ${attempts}): ${delivery.error}`), message.id);
    const parked = attempts >= this.#maxAttempts;
    const delay = retryDelay(attempts, this.#backoffMs, this.#maxBackoffMs);
    await this.#settle(message, {
      ...message,
      attempts,
      status: parked ? 'parked' : 'scheduled',
      error: delivery.error,
      dueAt: parked ? message.dueAt : new Date(this.#clock.now().getTime() + delay),
    });
  }

  /** Writes a due event to the log and removes it from the schedule, at once; then its handlers take it. */
  async #write(message: ScheduledMessage): Promise<void> {
    const current = this.#current(message);
    if (current === undefined) return;
    const occurredAt = this.#clock.now();
    const metadata = {
      eventId: message.messageId,
      type: message.type,
      version: message.version,
      occurredAt,
      correlationId: message.correlationId,
      causationId: message.causationId,
      principal: message.principal?.subject,
      traceparent: message.traceparent,
      tracestate: message.tracestate,
    };
    await this.#database.commit(
      [
        {
          collection: scheduledCollection,
          id: message.id,
          expectedVersion: current.version,
          state: undefined,
          version: 0,
        },
      ],
      [
        {
          streamId: message.streamId ?? `scheduled-${message.id}`,
          expectedVersion: 'any',
          events: [{ data: message.payload, metadata }],
        },
      ],
      { protection: this.#protection },
    );
    const definition = this.#app.messages.get(message.type);
    if (definition === undefined || definition.kind !== 'event') return;
    // Its personal fields were sealed when it was scheduled: opened now, or placeholders if its subject is forgotten.
    const [opened] = await this.#protection.reveal([{ data: message.payload, metadata }]);
    await this.#app.mediator
      .publish(new definition(opened?.data as never) as AnyEvent, {
        eventId: message.messageId,
        occurredAt,
        correlationId: message.correlationId,
        causationId: message.causationId,
        ...(message.traceparent === undefined
          ? {}
          : { traceparent: message.traceparent, tracestate: message.tracestate }),
      })
      .catch((error: unknown) => this.#onError(error, message.id));
  }

  /** The stored message, unless it was delivered, cancelled or replaced since it was read. */
  #current(message: ScheduledMessage): { version: number } | undefined {
    const current = this.#database.document(scheduledCollection, message.id);
    return (current?.state as ScheduledMessage | undefined)?.messageId === message.messageId
      ? current
      : undefined;
  }

  /** Replaces the message (a retry) or removes it (undefined), if it is still the one read. */
  async #settle(message: ScheduledMessage, next: ScheduledMessage | undefined): Promise<void> {
    const current = this.#current(message);
    if (current === undefined) return;
    await this.#database.commit(
      [
        {
          collection: scheduledCollection,
          id: message.id,
          expectedVersion: current.version,
          state: next,
          version: current.version + 1,
        },
      ],
      [],
    );
  }
}
