// What time it is, as the application sees it: the system's clock in production, a clock the test moves in tests,
// so that nothing scheduled is ever tested by waiting.
import { token } from '../dependencyInjection/token.ts';

export interface Clock {
  now(): Date;
  /**
   * Resolves after `ms` of this clock's time, or when `signal` aborts. A test clock resolves when the test moves
   * it that far; the system clock sets a timer.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The application's clock; persistence registers the system clock unless given another. */
export const Clock = token<Clock>('Clock');

/** Real time. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted === true) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      // A timer longer than 2^31-1 ms fires at once; sleeping less is harmless, callers look at the time again.
      const timer = setTimeout(done, Math.min(Math.max(0, ms), 2_147_483_647));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/**
 * A clock that stands still until the test moves it. `await clock.advance(ms)` moves it and waits until whatever
 * was sleeping until then (a scheduler) has run: a test of a ten-minute timeout takes no ten minutes.
 * @example const clock = new TestClock(); ... await clock.advance(10 * 60_000);
 */
export class TestClock implements Clock {
  #now: number;
  readonly #sleepers = new Set<{ readonly until: number; readonly wake: () => void }>();
  readonly #listeners = new Set<() => Promise<void>>();

  constructor(start: Date | string = '2026-01-01T12:00:00.000Z') {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted === true) return resolve();
      const sleeper = {
        until: this.#now + Math.max(0, ms),
        wake: () => {
          this.#sleepers.delete(sleeper);
          signal?.removeEventListener('abort', sleeper.wake);
          resolve();
        },
      };
      this.#sleepers.add(sleeper);
      signal?.addEventListener('abort', sleeper.wake, { once: true });
    });
  }

  /** Moves the clock on, wakes what slept until then, and waits for what listens to the clock to settle. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError('A clock only moves forward');
    this.#now += ms;
    for (const sleeper of [...this.#sleepers]) if (sleeper.until <= this.#now) sleeper.wake();
    for (const listener of [...this.#listeners]) await listener();
  }

  /**
   * Runs `listener` after each `advance`, which waits for it: a scheduler delivers what came due before the test
   * goes on. Returns a function that stops listening.
   */
  onAdvance(listener: () => Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
