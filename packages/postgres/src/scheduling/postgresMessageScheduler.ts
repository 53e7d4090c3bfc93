import {
  type Application,
  Clock,
  executeScheduled,
  handlerTimeoutOf,
  type MessageSchedulerOptions,
  personalDataTypes,
  reportErrors,
  retryDelay,
  type ScheduledMessage,
  sealedField,
  TestClock,
} from '@myelin/core';
import type { Database } from '../database/database.ts';
import { PostgresProtection } from '../personalData/protection.ts';
import { type Lease, leasesOf } from '../subscriptions/leases.ts';
import { logSignal, scheduleSignal } from '../subscriptions/logSignal.ts';
import { type ScheduledRow, scheduledColumns, toScheduledMessage } from './scheduledMessages.ts';

export interface PostgresMessageSchedulerOptions extends MessageSchedulerOptions {
  /** Due messages taken per round; defaults to 500. */
  readonly batchSize?: number;
  /** Scheduled commands executed at once; defaults to 8 (each holds a pooled connection while it commits). */
  readonly concurrency?: number;
  /** The longest wait between two looks when nothing wakes the scheduler; defaults to 1000 ms. */
  readonly pollMs?: number;
  /** How often a standby tries to take the lease; defaults to 1000 ms, which bounds failover. */
  readonly leaseRetryMs?: number;
}

export type SchedulerState = 'standby' | 'active' | 'stopped';

/** The lease the scheduler runs under: one process delivers at a time. */
export const schedulerLease = 'scheduler';

/**
 * Delivers the messages an application on `postgresPersistence` scheduled, when they come due by its clock. One
 * process at a time delivers (a lease, like a subscription's: a standby takes over when the holder dies, and at once
 * delivers what came due meanwhile). A due event is written to the log and removed from the schedule in one
 * statement, so it is written once; the relay and projections take it from there. A due command is executed as who
 * scheduled it, and its unit of work removes the message in the transaction of its effects, so that it takes effect
 * once even when a failover delivers it twice. A failed command is retried with backoff and parked after
 * `maxAttempts`; a refused one (a 4xx) is dropped and reported.
 * @example await using scheduler = new PostgresMessageScheduler(app, database).start();
 */
export class PostgresMessageScheduler {
  readonly #app: Application;
  readonly #database: Database;
  readonly #clock: Clock;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #pollMs: number;
  readonly #leaseRetryMs: number;
  readonly #handlerTimeoutMs: number;
  readonly #onError: (error: unknown, message: string) => void;
  #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #state: SchedulerState = 'standby';
  #lease: Lease | undefined;
  #activated: { promise: Promise<void>; resolve: () => void } = deferred();
  #unlisten: (() => void) | undefined;
  /** Rounds take turns: the loop and a test clock's `advance` never deliver at once. */
  #turn: Promise<unknown> = Promise.resolve();
  /** The failure to seal due events left in clear last reported, and when: reported again when it changes, or hourly. */
  #sealFailure: { readonly message: string; readonly at: number } | undefined;

  constructor(app: Application, database: Database, options: PostgresMessageSchedulerOptions = {}) {
    this.#app = app;
    this.#database = database;
    this.#clock = app.container.root.resolve(Clock);
    this.#maxAttempts = positive(options.maxAttempts ?? 5, 'maxAttempts');
    this.#backoffMs = positive(options.backoffMs ?? 1000, 'backoffMs');
    this.#maxBackoffMs = positive(options.maxBackoffMs ?? 5 * 60_000, 'maxBackoffMs');
    this.#batchSize = positive(options.batchSize ?? 500, 'batchSize');
    this.#concurrency = positive(options.concurrency ?? 8, 'concurrency');
    this.#pollMs = positive(options.pollMs ?? 1000, 'pollMs');
    this.#leaseRetryMs = positive(options.leaseRetryMs ?? 1000, 'leaseRetryMs');
    this.#handlerTimeoutMs = handlerTimeoutOf(options.handlerTimeoutMs, 'PostgresMessageScheduler');
    this.#onError = options.onError ?? reportErrors(app, 'scheduler');
  }

  get state(): SchedulerState {
    return this.#state;
  }

  start(): this {
    if (this.#loop === undefined) {
      this.#stop = new AbortController();
      this.#state = 'standby';
      leasesOf(this.#database).retain();
      if (this.#clock instanceof TestClock)
        this.#unlisten = this.#clock.onAdvance(async () => {
          await this.deliverDue();
        });
      this.#loop = this.#run(this.#stop.signal);
    }
    return this;
  }

  /** Resolves once this scheduler holds the lease and delivers (or when it stops). */
  active(): Promise<void> {
    return this.#activated.promise;
  }

  /** Stops after the round in progress and gives the lease up. */
  async stop(): Promise<void> {
    const loop = this.#loop;
    if (loop === undefined) return;
    this.#stop.abort();
    this.#unlisten?.();
    this.#activated.resolve();
    await loop;
    await this.#turn;
    this.#loop = undefined;
    this.#state = 'stopped';
    await leasesOf(this.#database).unretain();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The messages waiting (scheduled or parked), soonest first; at most `limit` (default 1000). */
  async pending(options: { readonly limit?: number } = {}): Promise<ScheduledMessage[]> {
    const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? 1000)), 10_000);
    const { rows } = await this.#database.query<ScheduledRow>(
      `SELECT ${scheduledColumns} FROM ${this.#database.schema}.scheduled_messages ORDER BY due_at, id LIMIT $1`,
      [limit],
    );
    return rows.map(toScheduledMessage);
  }

  /**
   * Delivers every message due now, if this scheduler holds the lease; returns how many it delivered or settled.
   * The loop calls it; a test clock's `advance` does too, and waits for it.
   */
  deliverDue(): Promise<number> {
    const round = this.#turn.then(async () => {
      let total = 0;
      for (;;) {
        const lease = this.#lease;
        if (lease === undefined || !lease.active || this.#stop.signal.aborted) return total;
        const now = this.#clock.now();
        const [events, commands] = await Promise.all([
          this.#writeDueEvents(now),
          this.#deliverDueCommands(now),
        ]);
        total += events + commands;
        if (events < this.#batchSize && commands < this.#batchSize) return total;
      }
    });
    this.#turn = round.catch(() => {});
    return round;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const leases = leasesOf(this.#database);
    const wake = scheduleSignal(this.#database);
    while (!signal.aborted) {
      let lease: Lease | undefined;
      try {
        lease = await leases.tryAcquire(schedulerLease, []);
      } catch (error) {
        this.#onError(error, schedulerLease);
      }
      if (lease === undefined) {
        await wake.wait(this.#leaseRetryMs, signal);
        continue;
      }
      const lost = new AbortController();
      void lease.lost.then(() => lost.abort());
      this.#lease = lease;
      this.#state = 'active';
      this.#activated.resolve();
      try {
        while (!signal.aborted && lease.active) {
          const seen = wake.generation; // before the look: a schedule written during it must not wait for the poll
          try {
            await this.deliverDue();
          } catch (error) {
            this.#onError(error, schedulerLease);
            await wake.wait(this.#leaseRetryMs, signal);
            continue;
          }
          if (signal.aborted || !lease.active) break;
          const untilDue = await this.#untilNextDue();
          // Until the next message is due by the clock, or a schedule written (which may be sooner), or the poll:
          // a notification from another process is a hint, and may be lost.
          const woken = new AbortController();
          const stop = () => woken.abort();
          signal.addEventListener('abort', stop, { once: true });
          lost.signal.addEventListener('abort', stop, { once: true });
          await Promise.race([
            ...(untilDue === undefined ? [] : [this.#clock.sleep(untilDue, woken.signal)]),
            wake.wait(this.#pollMs, woken.signal, seen),
          ]);
          woken.abort();
          signal.removeEventListener('abort', stop);
          lost.signal.removeEventListener('abort', stop);
        }
      } finally {
        this.#lease = undefined;
        this.#state = signal.aborted ? 'stopped' : 'standby';
        if (!signal.aborted) this.#activated = deferred();
        await this.#turn;
        await leases.release(lease);
      }
    }
  }

  /**
   * Milliseconds until the soonest scheduled message is due (0 if one is), or undefined when none is scheduled. Due
   * events left in clear are not counted: the round just ended sealed and wrote those it could, and those it could
   * not (no master key) would have the scheduler look again at once, in a loop; they are looked at each poll.
   */
  async #untilNextDue(): Promise<number | undefined> {
    const { rows } = await this.#database.query<{ due_at: Date | null }>(
      `SELECT min(due_at) AS due_at FROM ${this.#database.schema}.scheduled_messages
       WHERE status = 'scheduled'
         AND NOT (due_at <= $1 AND ${inClear('$2')})`,
      [this.#clock.now(), personalDataTypes()],
    );
    const due = rows[0]?.due_at;
    if (due === null || due === undefined) return undefined;
    return Math.max(0, new Date(due).getTime() - this.#clock.now().getTime());
  }

  /**
   * Writes up to a batch of due events to the log, in one statement that removes them from the schedule: each is
   * written once, however many schedulers look (a lost lease's holder too). Each stream's new events take its next
   * versions in due order.
   */
  async #writeDueEvents(now: Date): Promise<number> {
    const personal = personalDataTypes();
    let written = await this.#moveDue(now, personal);
    // A round that moved a whole batch comes again at once; one that did not may have passed over events waiting
    // in clear, sealed now, then moved. (Looked for only then: during a long drain, every round would look again
    // through the whole backlog for rows that are almost never there.)
    if (written < this.#batchSize && personal.length > 0 && (await this.#sealClearDue(now, personal)) > 0) {
      written += await this.#moveDue(now, personal);
    }
    if (written > 0) logSignal(this.#database).committed();
    return written;
  }

  /** One statement moving up to a batch of due events to the log, but those of `personal` types left in clear. */
  async #moveDue(now: Date, personal: readonly string[]): Promise<number> {
    const s = this.#database.schema;
    const { rows } = await this.#database.query<{ n: number }>(
      `WITH due AS (
         DELETE FROM ${s}.scheduled_messages WHERE id IN (
           SELECT id FROM ${s}.scheduled_messages
           WHERE kind = 'event' AND status = 'scheduled' AND due_at <= $1
             AND NOT ${inClear('$3')}
           ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING *
       ), counts AS (
         SELECT stream_id, count(*)::int AS n FROM due GROUP BY stream_id
       ), moved AS (
         INSERT INTO ${s}.streams AS st (stream_id, version) SELECT stream_id, n FROM counts ORDER BY stream_id
         ON CONFLICT (stream_id) DO UPDATE SET version = st.version + EXCLUDED.version
         RETURNING stream_id, version
       ), written AS (
         INSERT INTO ${s}.events (event_id, stream_id, stream_version, type, type_version, data, occurred_at,
           correlation_id, causation_id, principal, traceparent, tracestate)
         SELECT d.message_id, d.stream_id,
           m.version - c.n + row_number() OVER (PARTITION BY d.stream_id ORDER BY d.due_at, d.id),
           d.type, d.type_version, d.payload, $1, d.correlation_id, d.causation_id, d.principal ->> 'subject',
           d.traceparent, d.tracestate
         FROM due d JOIN moved m USING (stream_id) JOIN counts c USING (stream_id)
         ORDER BY d.due_at, d.id
         RETURNING 1
       )
       SELECT count(*)::int AS n FROM written`,
      [now, this.#batchSize, personal],
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * Seals the personal fields of due events that wait in clear: scheduled by a version of Myelin that did not seal
   * them (or by such a process during a rolling upgrade), or before their type declared personal data. The log must
   * not get them in clear, so until they are sealed (a master key is needed) they stay where they are: the
   * statement that moves due events to the log passes them over. A failure is reported, not thrown, so that the
   * other due messages are delivered all the same. Answers how many it sealed.
   */
  async #sealClearDue(now: Date, types: readonly string[]): Promise<number> {
    const s = this.#database.schema;
    try {
      const { rows } = await this.#database.query<{
        id: string;
        message_id: string;
        type: string;
        payload: unknown;
      }>(
        `SELECT id, message_id, type, payload FROM ${s}.scheduled_messages
         WHERE status = 'scheduled' AND due_at <= $1 AND ${inClear('$2')}
         ORDER BY due_at, id LIMIT $3`,
        [now, types, this.#batchSize],
      );
      if (rows.length === 0) {
        this.#sealFailure = undefined;
        return 0;
      }
      const protection = this.#app.container.root.resolve(PostgresProtection);
      const sealed = await protection.seal(
        rows.map((row) => ({ data: row.payload, metadata: { type: row.type } })),
      );
      const { rowCount } = await this.#database.query(
        `UPDATE ${s}.scheduled_messages AS m SET payload = u.payload::jsonb
         FROM unnest($1::text[], $2::text[], $3::text[]) AS u (id, message_id, payload)
         WHERE m.id = u.id AND m.message_id = u.message_id AND NOT (m.payload ? '${sealedField}')`,
        [
          rows.map((row) => row.id),
          rows.map((row) => row.message_id),
          sealed.map((event) => JSON.stringify(event.data)),
        ],
      );
      this.#sealFailure = undefined;
      return rowCount;
    } catch (error) {
      // Reported once, not at every poll while it lasts (a missing master key lasts until a deploy).
      const message = error instanceof Error ? error.message : String(error);
      const now = Date.now();
      const last = this.#sealFailure;
      if (last === undefined || last.message !== message || now - last.at >= sealFailureReportMs) {
        this.#sealFailure = { message, at: now };
        this.#onError(error, schedulerLease);
      }
      return 0;
    }
  }

  /** Executes up to a batch of due commands, `concurrency` at a time, and settles each that did not take effect. */
  async #deliverDueCommands(now: Date): Promise<number> {
    const { rows } = await this.#database.query<ScheduledRow>(
      `SELECT ${scheduledColumns} FROM ${this.#database.schema}.scheduled_messages
       WHERE kind = 'command' AND status = 'scheduled' AND due_at <= $1 ORDER BY due_at, id LIMIT $2`,
      [now, this.#batchSize],
    );
    const due = rows.map(toScheduledMessage);
    let next = 0;
    const worker = async () => {
      while (next < due.length && this.#lease?.active === true) {
        const message = due[next++] as ScheduledMessage;
        try {
          await this.#deliverCommand(message);
        } catch (error) {
          this.#onError(error, message.id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, due.length) }, worker));
    return due.length;
  }

  async #deliverCommand(read: ScheduledMessage): Promise<void> {
    const s = this.#database.schema;
    // The attempt is counted before the command runs, so that one which kills its process (or hangs it until the
    // lease moves) is not run for ever, by each process in turn: past `maxAttempts` attempts that never ended, it
    // is parked without running again.
    if (read.attempts >= this.#maxAttempts) {
      const error = `started ${read.attempts} times without an answer: the process running it stopped or hung`;
      this.#onError(new Error(`${read.type} was parked: ${error}`), read.id);
      await this.#database.query(
        `UPDATE ${s}.scheduled_messages SET status = 'parked', error = $4
         WHERE id = $1 AND message_id = $2 AND attempts = $3 AND status = 'scheduled'`,
        [read.id, read.messageId, read.attempts, error],
      );
      return;
    }
    const { rowCount } = await this.#database.query(
      `UPDATE ${s}.scheduled_messages SET attempts = attempts + 1
       WHERE id = $1 AND message_id = $2 AND attempts = $3 AND status = 'scheduled'`,
      [read.id, read.messageId, read.attempts],
    );
    if (rowCount === 0) return; // delivered, cancelled, replaced or taken meanwhile
    const message = { ...read, attempts: read.attempts + 1 };
    const delivery = await executeScheduled(this.#app, message, { timeoutMs: this.#handlerTimeoutMs });
    if (delivery.outcome === 'delivered' || delivery.outcome === 'gone') return;
    if (delivery.outcome === 'refused') {
      this.#onError(new Error(`${message.type} was refused: ${delivery.detail}`), message.id);
      // Only this attempt settles it: one counted since (by a standby, this process having stalled) is another's.
      await this.#database.query(
        `DELETE FROM ${s}.scheduled_messages
         WHERE id = $1 AND message_id = $2 AND attempts = $3 AND status = 'scheduled'`,
        [message.id, message.messageId, message.attempts],
      );
      return;
    }
    const attempts = message.attempts;
    this.#onError(new Error(`${message.type} failed (attempt ${attempts}): ${delivery.error}`), message.id);
    const parked = attempts >= this.#maxAttempts;
    const retryAt = new Date(
      this.#clock.now().getTime() + retryDelay(attempts, this.#backoffMs, this.#maxBackoffMs),
    );
    // Only the message read (one scheduled again under its id meanwhile is another), and only while this attempt
    // is its last: a process that stalled and fails late must not undo an attempt counted since, or a parking.
    await this.#database.query(
      `UPDATE ${s}.scheduled_messages SET status = $4, error = $5,
         due_at = CASE WHEN $4::text = 'parked' THEN due_at ELSE $6::timestamptz END
       WHERE id = $1 AND message_id = $2 AND attempts = $3 AND status = 'scheduled'`,
      [message.id, message.messageId, attempts, parked ? 'parked' : 'scheduled', delivery.error, retryAt],
    );
  }
}

/**
 * An event of one of the types the parameter `types` names (those declaring personal data) whose personal fields
 * wait in clear: scheduled before they were sealed (see `#sealClearDue`).
 */
const inClear = (types: string) =>
  `(kind = 'event' AND type = ANY (${types}::text[]) AND NOT (payload ? '${sealedField}'))`;

/** How often a failure to seal due events left in clear is reported again while it lasts. */
const sealFailureReportMs = 60 * 60_000;

function positive(value: number, name: string): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`PostgresMessageScheduler: ${name} must be a positive number, not ${value}`);
  }
  return value;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
