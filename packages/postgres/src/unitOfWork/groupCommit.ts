import type { Database, Sql } from '../database/database.ts';
import { BatchedWrites, thenWriteBatched } from './batchedWrites.ts';

interface Participant {
  /** What it writes besides its batched rows; none for most of a bus consumer's deliveries. */
  readonly work: ((sql: Sql) => Promise<unknown>) | undefined;
  /** Rows it writes as sets: merged with the group's, one statement per key for the whole group. */
  readonly batched: BatchedWrites | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The most commits one transaction carries: beyond this, the next group takes the rest. At 256, a consumer
 * handling 500 messages at once split each burst in two transactions, and PostgreSQL spent about a tenth more CPU
 * per event than with the whole burst in one (`npm run bench -- relay`).
 */
const maxGroup = 512;

/**
 * Group commit for event deliveries. A bus consumer handles many messages at once, each in a unit of work of its
 * own; a transaction each would make the database flush its log once per message, and each would wait for a
 * pooled connection. Here the commits that arrive while a group is writing wait for it, then go together in the
 * next one. Their statements are queued on its connection together, so the driver sends each as soon as the
 * previous is answered, without waiting for a turn of the event loop. (Measured with `npm run bench -- relay`:
 * about 2.7 times the throughput of a transaction each, and more than several group transactions at once.)
 *
 * The next group begins as soon as one has written everything and only its `COMMIT` is left (the database's log
 * flush, the longest round trip): the two overlap, and the next group's statements are not held up by it. A group
 * that begins then may wait for rows the committing one holds, never the other way round (that one takes no more
 * locks), so the two cannot deadlock; and no third group begins before the first has ended.
 *
 * Each participant's work only writes what its unit of work decided (nothing was written before the commit), so
 * it can run again. When one of a group fails, the transaction is rolled back and every participant is committed
 * on its own, so the failure (a duplicate, a version conflict) reaches only its owner, as without grouping. Those
 * transactions run at once; when it was the `COMMIT` that failed, the next group has begun already and runs beside
 * them, so they may wait on each other's rows: PostgreSQL then ends one of them (a deadlock), whose delivery fails
 * and is delivered again. A failed `COMMIT` is rare; the next group waits for the members of any other failure.
 */
export class GroupCommit {
  readonly #database: Database;
  readonly #waiting: Participant[] = [];
  /** A group is sending its statements: the next waits until only its COMMIT is left. */
  #writing = false;
  /** Groups whose transaction has not ended: at most two, one writing and one committing. */
  #open = 0;
  /** The waiting commits will be looked at once this turn of the event loop ends. */
  #scheduled = false;

  constructor(database: Database) {
    this.#database = database;
  }

  /**
   * Runs `work`, then writes `batched`, in a transaction shared with the commits waiting beside it; answers what
   * `work` answered (undefined without one).
   */
  commit<T>(work: ((sql: Sql) => Promise<T>) | undefined, batched?: BatchedWrites): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      this.#waiting.push({ work, batched, resolve: resolve as (value: unknown) => void, reject });
      // Deliveries come in bursts (a batch of messages, their inbox look-up answered at once), whose commits are
      // called in one turn of the event loop: the first of them waits for the others, until the turn ends, rather
      // than commit alone and hold the rest up for a whole transaction (in a traced relay run, about a third of
      // the groups sampled were one commit).
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#next();
        });
      }
    });
  }

  /** Starts the next group, if there is one and its turn has come. */
  #next(): void {
    if (this.#writing || this.#open >= 2 || this.#waiting.length === 0) return;
    const group = this.#waiting.splice(0, maxGroup);
    this.#writing = true;
    this.#open++;
    let written = false;
    // Once, either when only the group's COMMIT is left or when it ended (failed, or committed each alone).
    const wrote = () => {
      if (written) return;
      written = true;
      this.#writing = false;
      this.#next();
    };
    void this.#commitGroup(group, wrote).finally(() => {
      this.#open--;
      if (written) this.#next();
      else wrote();
    });
  }

  async #commitGroup(group: readonly Participant[], wrote: () => void): Promise<void> {
    const [only] = group;
    if (group.length === 1 && only !== undefined) await this.#alone(only, wrote);
    // After a failure while writing, each alone: the next group waits for all of them, which take locks anew.
    else if (!(await this.#together(group, wrote))) {
      await Promise.all(group.map((participant) => this.#alone(participant)));
    }
  }

  /** Commits the group in one transaction; false (and nothing written) when any of it failed. */
  async #together(group: readonly Participant[], wrote: () => void): Promise<boolean> {
    let results: readonly unknown[];
    try {
      results = await this.#database.transaction(async (sql) => {
        // Every participant settles before the transaction ends: a statement sent after a rollback would run
        // outside any transaction.
        // A bus consumer's deliveries mostly write batched rows alone: then there is nothing to wait for here.
        const values = group.some((participant) => participant.work !== undefined)
          ? (await Promise.allSettled(group.map((participant) => participant.work?.(sql)))).map((outcome) => {
              if (outcome.status === 'rejected') throw outcome.reason;
              return outcome.value;
            })
          : none;
        const batched = new BatchedWrites();
        for (const participant of group)
          if (participant.batched !== undefined) batched.merge(participant.batched);
        await batched.write(sql);
        wrote();
        return values;
      });
    } catch {
      return false;
    }
    for (const [i, participant] of group.entries()) participant.resolve(results[i]);
    return true;
  }

  async #alone(participant: Participant, wrote?: () => void): Promise<void> {
    try {
      const { work, batched } = participant;
      const written = thenWriteBatched(work ?? noWork, batched);
      participant.resolve(
        await this.#database.transaction(
          wrote === undefined
            ? written
            : async (sql) => {
                const result = await written(sql);
                wrote();
                return result;
              },
        ),
      );
    } catch (error) {
      participant.reject(error);
    }
  }
}

const noWork = (): Promise<undefined> => Promise.resolve(undefined);
const none: readonly undefined[] = [];

const groups = new WeakMap<Database, GroupCommit>();

/** The database's group commit, shared by every unit of work on it. */
export function groupCommit(database: Database): GroupCommit {
  let group = groups.get(database);
  if (group === undefined) {
    group = new GroupCommit(database);
    groups.set(database, group);
  }
  return group;
}
