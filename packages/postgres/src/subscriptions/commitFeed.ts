import { type ChangeFeed, type ChangeListener, type LogPosition, startOfLog } from '@myelin/core';
import type { Database } from '../database/database.ts';
import { listenForCommits } from './commitListener.ts';
import { readLog } from './logReader.ts';
import { logSignal, perDatabase } from './logSignal.ts';
import { visibleIn } from './logTail.ts';

/** Events read at a time. */
const batchSize = 500;
/** The longest wait between two reads when nothing woke the feed. */
const pollMs = 1000;

/**
 * The one reader of the log in this process that live views follow: it tails the log while anyone follows, woken
 * by commits (in process, and from other processes through the shared commit listener), and hands each batch to
 * every follower. Ten thousand open streams cost one query per commit, not ten thousand. When the database is
 * away it keeps trying at the poll interval, and its followers catch up once it answers: nothing is skipped,
 * because it reads below the horizon like every reader of the log.
 */
class CommitFeed implements ChangeFeed {
  readonly #database: Database;
  readonly #listeners = new Set<ChangeListener>();
  /** Followers between asking and being added: the loop must not stop under them. */
  #joining = 0;
  #position: LogPosition | undefined;
  #running: { readonly stop: AbortController; readonly started: Promise<void> } | undefined;

  constructor(database: Database) {
    this.#database = database;
  }

  async follow(listener: ChangeListener, signal: AbortSignal): Promise<LogPosition> {
    signal.throwIfAborted();
    this.#joining++;
    try {
      await this.#start();
    } finally {
      this.#joining--;
    }
    if (signal.aborted) {
      this.#stopIfIdle();
      signal.throwIfAborted();
    }
    this.#listeners.add(listener);
    signal.addEventListener(
      'abort',
      () => {
        this.#listeners.delete(listener);
        this.#stopIfIdle();
      },
      { once: true },
    );
    // Read now, with the listener added in the same turn: every batch after this position reaches it.
    return this.#position as LogPosition;
  }

  /** Starts the loop unless it runs, resolving once the feed knows its position. */
  #start(): Promise<void> {
    if (this.#running !== undefined) return this.#running.started;
    const stop = new AbortController();
    const started = (async () => {
      // From now: from the horizon, leaving out what had committed already (another transaction on the server
      // may hold the horizon back below it). A state read from now includes those events.
      const { rows } = await this.#database.query<{ snapshot: string }>(
        'SELECT pg_current_snapshot()::text AS snapshot',
      );
      const committed = visibleIn(rows[0]?.snapshot ?? '0:0:');
      const { end } = await readLog(this.#database, this.#database.schema, { after: startOfLog, limit: 0 });
      if (this.#running?.stop !== stop) return;
      this.#position = end;
      void this.#run(stop.signal, committed);
    })();
    this.#running = { stop, started };
    // A database that does not answer now fails these followers; the next one tries again.
    started.catch(() => {
      if (this.#running?.stop === stop) this.#running = undefined;
    });
    return started;
  }

  #stopIfIdle(): void {
    if (this.#listeners.size > 0 || this.#joining > 0 || this.#running === undefined) return;
    this.#running.stop.abort();
    this.#running = undefined;
    this.#position = undefined;
  }

  async #run(stop: AbortSignal, committedAtStart: (position: LogPosition) => boolean): Promise<void> {
    const database = this.#database;
    const stopListening = await listenForCommits(database);
    // After a wake-up that found nothing, the commit is still above the horizon (a transaction begun before it is
    // still running): look again soon, backing off, rather than at the poll.
    let retryMs: number | undefined;
    try {
      while (!stop.aborted) {
        const seen = logSignal(database).generation;
        let batch: Awaited<ReturnType<typeof readLog>>;
        try {
          batch = await readLog(database, database.schema, {
            after: this.#position as LogPosition,
            limit: batchSize,
          });
        } catch {
          // Unavailable or frozen: the followers wait with their last state, and catch up when it answers.
          await logSignal(database).wait(pollMs, stop);
          continue;
        }
        if (stop.aborted) return;
        this.#position = batch.end;
        const events = batch.events.filter((event) => !committedAtStart(event.position));
        if (events.length > 0) {
          for (const listener of this.#listeners) {
            try {
              listener(events, events.at(-1)?.position ?? batch.end);
            } catch {
              // One follower's failure is its own; the others still get the batch.
            }
          }
        }
        if (batch.events.length === batchSize) continue;
        if (batch.events.length > 0) retryMs = undefined;
        const woken = await logSignal(database).wait(retryMs ?? pollMs, stop, seen);
        retryMs = woken ? 10 : retryMs === undefined ? undefined : Math.min(retryMs * 2, pollMs);
      }
    } finally {
      await stopListening();
    }
  }
}

/**
 * The commit feed of a database handle: one per process, shared by every live view that follows it.
 * @example const feed = commitFeed(database); // liveQuery(app, feed, { … }) in @myelin/http
 */
export const commitFeed: (database: Database) => ChangeFeed = perDatabase(
  (database) => new CommitFeed(database),
);
