import { comparePositions, type LogPosition } from '@myelin/core';
import { channelOf, type Database } from '../database/database.ts';

/**
 * Wakes the log's readers when something was committed. In process, directly; on PostgreSQL also other processes,
 * by NOTIFY, sent after the commit, at most once per `coalesceMs`, on a connection of its own (a commit neither
 * waits for it nor gives it a pooled connection; NOTIFY inside the writing transaction would serialize every
 * commit on the notification queue's lock). It is a hint:
 * readers also poll, so a lost notification delays an event by one poll interval, never loses it.
 */
export class LogSignal {
  readonly #database: Database;
  readonly #topic: string;
  readonly #waiters = new Set<() => void>();
  #notifyPending = false;
  #generation = 0;
  #latest: LogPosition | undefined;
  static readonly coalesceMs = 25;

  constructor(database: Database, topic = 'log') {
    this.#database = database;
    this.#topic = topic;
  }

  /** The NOTIFY channel of the database's schema. */
  get channel(): string {
    return channelOf(this.#database, this.#topic);
  }

  /** Something was committed to the log (ending at `position`, when known). */
  committed(position?: LogPosition): void {
    if (
      position !== undefined &&
      (this.#latest === undefined || comparePositions(position, this.#latest) > 0)
    ) {
      this.#latest = position;
    }
    this.wake();
    if (this.#notifyPending) return;
    this.#notifyPending = true;
    setTimeout(() => {
      this.#notifyPending = false;
      // A failed hint is not an error: the readers poll.
      this.#database.notify(this.channel).catch(() => {});
    }, LogSignal.coalesceMs).unref();
  }

  /**
   * Whether a read that reached `end` stopped short of a commit made in this process: its events are committed,
   * but a transaction older than theirs (anywhere on the server: another application's, autovacuum's) was still
   * running, so the horizon held them back. Nothing wakes a reader when that transaction ends: it must look again.
   */
  behind(end: LogPosition): boolean {
    return this.#latest !== undefined && comparePositions(end, this.#latest) <= 0;
  }

  /** Wakes this process's readers (a notification from another process arrived). */
  wake(): void {
    this.#generation++;
    for (const resolve of this.#waiters) resolve();
    this.#waiters.clear();
  }

  /**
   * Counts wake-ups. A reader notes it before it reads and passes it to {@link wait}: a commit that woke nobody
   * because the reader was busy then still counts, instead of leaving its event to the next poll.
   */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Resolves at the next wake-up (true), after `timeoutMs` or when `signal` aborts (false), whichever comes first;
   * at once (true) when woken since the `since` generation.
   */
  wait(timeoutMs: number, signal?: AbortSignal, since?: number): Promise<boolean> {
    if (signal?.aborted === true) return Promise.resolve(false);
    if (since !== undefined && since !== this.#generation) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        this.#waiters.delete(woke);
        resolve(woken);
      };
      const woke = () => finish(true);
      const aborted = () => finish(false);
      const timer = setTimeout(aborted, timeoutMs);
      timer.unref?.(); // a runner waiting for work must not keep the process alive
      signal?.addEventListener('abort', aborted, { once: true });
      this.#waiters.add(woke);
    });
  }
}

/** One `T` per database handle in this process, made on first use. */
export function perDatabase<T>(make: (database: Database) => T): (database: Database) => T {
  const made = new WeakMap<Database, T>();
  return (database) => {
    let value = made.get(database);
    if (value === undefined) {
      value = make(database);
      made.set(database, value);
    }
    return value;
  };
}

/** The one signal of a database handle, shared by its writers and readers in this process. */
export const logSignal = perDatabase((database) => new LogSignal(database));

/**
 * Wakes whoever waits for a subscription to move on (a query reading its own writes from an async read model):
 * a runner signals it after each batch it committed, in this process directly and in others by NOTIFY.
 */
export const progressSignal = perDatabase((database) => new LogSignal(database, 'progress'));

/**
 * Wakes the scheduler when a unit of work scheduled or cancelled a message (it sleeps until the soonest one is
 * due, and a new one may be sooner): a signal of its own, so that the scheduler does not look at its table after
 * every commit to the log, nor the log's readers after every schedule.
 */
export const scheduleSignal = perDatabase((database) => new LogSignal(database, 'schedule'));
