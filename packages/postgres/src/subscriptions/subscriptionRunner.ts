import type { LogPosition, StoredEvent } from '@myelin/core';
import type { Database, Sql } from '../database/database.ts';
import { type Lease, LeaseLostError, leasesOf, writeCheckpoint } from './leases.ts';
import { type LogBatch, readLog } from './logReader.ts';
import { logSignal, perDatabase, progressSignal } from './logSignal.ts';
import { type Partition, partitionsOf } from './partitions.ts';

/** What reads the log through a runner: an event handler's relay, a projection. */
export interface Consumer {
  /** The subscription's name: its checkpoint and its lease are keyed on it. */
  readonly name: string;
  /** The event types it wants; all when absent. */
  readonly types?: readonly string[] | undefined;
  /** The partition of the log it reads (the events of the streams that hash to it); the whole log when absent. */
  readonly partition?: Partition | undefined;
  /**
   * Handles a batch read after the checkpoint. It must move the checkpoint to `end` through `checkpoint`, in the
   * transaction that makes its effects durable (or after them, for at-least-once effects).
   */
  consume(
    events: readonly StoredEvent[],
    end: LogPosition,
    checkpoint: (sql: Sql) => Promise<void>,
    lease: Lease,
    caughtUp: boolean,
  ): Promise<'stop' | undefined>;
  /** Called when a read found nothing new (after the checkpoint moved to the horizon); 'stop' ends the runner. */
  idle?(end: LogPosition, checkpoint: (sql: Sql) => Promise<void>, lease: Lease): Promise<'stop' | undefined>;
  /** Work besides the log, run before each read (retries that have come due). */
  tick?(lease: Lease): Promise<void>;
  /** The lease was taken: load what the consumer keeps in memory. */
  acquired?(lease: Lease): Promise<void>;
}

export interface RunnerOptions {
  /** Events read per batch; defaults to 100. */
  readonly batchSize?: number;
  /**
   * The longest wait between two reads when nothing wakes the runner; defaults to 1000 ms. Commits in this process
   * wake it at once, and on PostgreSQL commits in others do too, through LISTEN/NOTIFY.
   */
  readonly pollMs?: number;
  /** How often a standby tries to take the lease; defaults to 1000 ms, which bounds failover. */
  readonly leaseRetryMs?: number;
  /** Told of every error the loop survives (a failed read, a lost lease); defaults to console.error. */
  readonly onError?: (error: unknown, consumer: string) => void;
}

export type RunnerState = 'standby' | 'active' | 'stopped';

/** The subscriptions whose runner is active in this process, by database: their progress is signalled here. */
export const runningHere = perDatabase((): Set<string> => new Set());

/** The least time between two checkpoint writes that only skip events of no interest. */
const skipEveryMs = 50;

/**
 * Runs one consumer: takes its lease (or waits as a standby), then reads the log after its checkpoint in batches,
 * below the horizon, for as long as it holds the lease. Errors are reported and retried, never fatal.
 */
export class SubscriptionRunner {
  readonly #database: Database;
  readonly #consumer: Consumer;
  readonly #batchSize: number;
  readonly #pollMs: number;
  readonly #leaseRetryMs: number;
  readonly #onError: (error: unknown, consumer: string) => void;
  readonly #stop = new AbortController();
  #state: RunnerState = 'standby';
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #position: LogPosition | undefined;
  /** When the checkpoint last moved past events of no interest, and whether a move is owed since. */
  #skippedAt = 0;
  #skipOwed = false;
  /** How far the last read reached: the horizon, when its batch was not full. */
  #readTo: LogPosition | undefined;
  /** The next batch, being read while the current one is handled. */
  #ahead: { readonly after: LogPosition; readonly batch: Promise<LogBatch> } | undefined;

  constructor(database: Database, consumer: Consumer, options: RunnerOptions = {}) {
    this.#database = database;
    this.#consumer = consumer;
    this.#batchSize = options.batchSize ?? 100;
    this.#pollMs = options.pollMs ?? 1000;
    this.#leaseRetryMs = options.leaseRetryMs ?? 1000;
    this.#onError =
      options.onError ??
      ((error, name) => console.error(`myelin: subscription '${name}' failed, retrying:`, error));
  }

  /** The consumer's subscription name. */
  get name(): string {
    return this.#consumer.name;
  }

  get state(): RunnerState {
    return this.#state;
  }

  /** Where the consumer has read to, while active. */
  get position(): LogPosition | undefined {
    return this.#position;
  }

  start(): this {
    if (this.#loop === undefined) {
      leasesOf(this.#database).retain();
      if (this.#consumer.partition !== undefined)
        partitionsOf(this.#database).retain(this.#consumer.partition);
      this.#loop = this.#run();
    }
    return this;
  }

  /** Stops after the batch in progress and gives the lease up. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stop.abort();
      const loop = this.#loop;
      this.#loop = Promise.resolve();
      await loop;
      if (loop !== undefined) {
        await leasesOf(this.#database).unretain();
        const partition = this.#consumer.partition;
        if (partition !== undefined) await partitionsOf(this.#database).unretain(partition);
      }
      this.#state = 'stopped';
    })();
    return this.#stopping;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    const leases = leasesOf(this.#database);
    const wake = logSignal(this.#database);
    const partition = this.#consumer.partition;
    const partitions = partitionsOf(this.#database);
    while (!signal.aborted) {
      let lease: Lease | undefined;
      try {
        // A partition is taken only while this process holds fewer than its share of them.
        if (partition === undefined || (await partitions.mayAcquire(partition, this.#leaseRetryMs))) {
          lease = await leases.tryAcquire(this.#consumer.name, this.#consumer.types);
        }
      } catch (error) {
        this.#onError(error, this.#consumer.name);
      }
      if (lease === undefined) {
        await wake.wait(this.#leaseRetryMs, signal);
        continue;
      }
      void lease.lost.then(() => wake.wake());
      if (partition !== undefined) partitions.acquired(partition);
      this.#state = 'active';
      runningHere(this.#database).add(this.#consumer.name);
      let yielded = false;
      try {
        await this.#consumer.acquired?.(lease);
        this.#position = lease.checkpoint;
        let heldFor = 0;
        while (!signal.aborted && lease.active) {
          // Another process joined: the partitions beyond this one's share go back, between two batches.
          if (partition !== undefined && (await partitions.shouldYield(partition, this.#leaseRetryMs))) {
            yielded = true;
            break;
          }
          const seen = wake.generation; // before the read: a commit during it must not wait for the poll
          const step = await this.#step(lease);
          if (step === 'stop') {
            this.#stop.abort();
            break;
          }
          // A skip-ahead held back is written on the next turn, soon: read-your-writes may be waiting for it. A
          // read held back by an older transaction looks again soon too (nothing wakes it when that one ends),
          // backing off while it runs long.
          if (step === 'idle') {
            const held = this.#readTo !== undefined && wake.behind(this.#readTo);
            heldFor = held ? Math.min(heldFor === 0 ? 2 : heldFor * 2, skipEveryMs) : 0;
            const wait = held ? heldFor : this.#skipOwed ? skipEveryMs : this.#pollMs;
            await wake.wait(wait, signal, seen);
          }
        }
      } catch (error) {
        this.#onError(error, this.#consumer.name);
        if (!(error instanceof LeaseLostError)) await wake.wait(this.#leaseRetryMs, signal);
      } finally {
        this.#state = 'standby';
        runningHere(this.#database).delete(this.#consumer.name);
        this.#position = undefined;
        this.#ahead = undefined;
        await leases.release(lease);
        if (partition !== undefined) partitions.released(partition, yielded);
      }
    }
  }

  #read(after: LogPosition): Promise<LogBatch> {
    return readLog(this.#database, this.#database.schema, {
      after,
      types: this.#consumer.types,
      partition: this.#consumer.partition,
      limit: this.#batchSize,
    });
  }

  /** One read and its handling: 'full' when the batch was full (read again at once). */
  async #step(lease: Lease): Promise<'full' | 'idle' | 'stop'> {
    await this.#consumer.tick?.(lease);
    const after = this.#position ?? lease.checkpoint;
    const s = this.#database.schema;
    const ahead = this.#ahead;
    this.#ahead = undefined;
    const batch = await (ahead !== undefined && ahead.after === after ? ahead.batch : this.#read(after));
    const full = batch.events.length === this.#batchSize;
    this.#readTo = batch.end;
    // Catching up, the next batch is read while this one is handled, on another connection: the reads then cost
    // (almost) nothing. Not for a consumer with a tick, which may change what the next read should see.
    if (full && this.#consumer.tick === undefined) {
      const next = this.#read(batch.end);
      next.catch(() => {}); // read again, and its error seen, by the next step if this one fails
      this.#ahead = { after: batch.end, batch: next };
    }
    // A read that ended after the lease's session was given up (a network cut) starts no batch.
    if (!lease.active)
      throw new LeaseLostError(lease.name, 'its session was given up before the batch began');
    const checkpoint = (sql: Sql) => writeCheckpoint(sql, s, lease, batch.end, batch.events.length);
    let outcome: 'stop' | undefined;
    if (batch.events.length > 0) {
      outcome = await this.#consumer.consume(batch.events, batch.end, checkpoint, lease, !full);
      progressSignal(this.#database).committed(); // a query waiting to read its own writes looks again
    } else {
      // Moving past other types' events is written at most every skipEveryMs: every commit wakes every runner,
      // and a write per runner per commit would cost more than the commits. Moving past no event at all is not
      // written: the horizon moves with every transaction id taken (this very write's, the consumer's row lock),
      // so an idle runner would write, and wake every waiting query, at each poll for ever. No query waits for a
      // position in that range, and a restart finds nothing in it to read again.
      if (batch.passedEvents) {
        if (Date.now() - this.#skippedAt >= skipEveryMs) {
          await checkpoint(this.#database);
          progressSignal(this.#database).committed();
          this.#skippedAt = Date.now();
          this.#skipOwed = false;
        } else {
          this.#skipOwed = true;
          return 'idle'; // the position stays where the checkpoint is, so the skip is read (and written) again
        }
      }
      outcome = await this.#consumer.idle?.(batch.end, checkpoint, lease);
    }
    this.#position = batch.end;
    return outcome === 'stop' ? 'stop' : full ? 'full' : 'idle';
  }
}
