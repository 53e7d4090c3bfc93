// Partitioned subscriptions: the processes running a group of partitions share them fairly, with no coordinator
// but PostgreSQL. Each process that runs the group holds a member lock (a session-level advisory lock on one of
// `count` slots); the members are counted from pg_locks, so a process that dies stops counting the moment its
// session ends. A process takes partitions while it holds fewer than its share, ceil(count / members), and gives
// back its highest ones when it holds more (a member joined).
import { type Connection, channelOf, type Database } from '../database/database.ts';
import { logSignal, perDatabase } from './logSignal.ts';

/** One partition of a subscription split by a hash of the stream id. */
export interface Partition {
  /** The subscription split: every partition of it shares this name. */
  readonly group: string;
  readonly index: number;
  readonly count: number;
}

/**
 * The SQL expression of the partition, among `count`, of the stream id `streamId`: a hash that every process and
 * the console compute alike, so that a stream's events are always read by one partition, in order.
 */
export function partitionOf(streamId: string, count: string): string {
  return `((hashtext(${streamId})::bigint + 2147483648) % ${count})`;
}

class Group {
  /** The partitions this process holds. */
  readonly held = new Set<number>();
  /** The member slot this process holds, once it has joined; and the attempt under way (one at a time). */
  slot: number | undefined;
  joining: Promise<void> | undefined;
  /** Runners of the group in this process; the last to stop leaves the group. */
  users = 0;
  /** The members counted last (this process included), and when. */
  members = 1;
  countedAt = Number.NEGATIVE_INFINITY;

  readonly count: number;

  constructor(count: number) {
    this.count = count;
  }

  /** How many partitions this process should hold. */
  get share(): number {
    return this.slot === undefined ? 0 : Math.ceil(this.count / Math.max(1, this.members));
  }
}

/** The partitioned groups this process runs on one database. */
export class Partitions {
  readonly #database: Database;
  readonly #groups = new Map<string, Group>();
  #connection: Promise<Connection> | undefined;

  constructor(database: Database) {
    this.#database = database;
  }

  /** A runner of a partition starts. */
  retain(partition: Partition): void {
    this.#group(partition).users++;
  }

  /** A runner of a partition stopped: the group's last one gives up its member slot. */
  async unretain(partition: Partition): Promise<void> {
    const group = this.#group(partition);
    if (--group.users > 0) return;
    this.#groups.delete(partition.group);
    const slot = group.slot;
    group.slot = undefined;
    const connection = await this.#connection?.catch(() => undefined);
    if (slot !== undefined && connection !== undefined) {
      await connection
        .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.#slotKey(partition.group, slot)])
        .catch(() => {});
      this.#changed();
    }
    if (this.#groups.size === 0) {
      this.#connection = undefined;
      await connection?.release();
    }
  }

  /**
   * Whether this process may take one more partition of the group: it has joined it and holds fewer than its
   * share. When it holds its share, it counts the members again (at most every `freshMs`): one may have died.
   */
  async mayAcquire(partition: Partition, freshMs: number): Promise<boolean> {
    if (this.#database.engine !== 'postgres') return true; // embedded: there is no other process
    const group = this.#group(partition);
    if (group.slot === undefined) {
      group.joining ??= this.#join(partition, group).finally(() => (group.joining = undefined));
      await group.joining;
    }
    if (group.held.size >= group.share) await this.#count(partition, group, freshMs);
    return group.held.size < group.share;
  }

  acquired(partition: Partition): void {
    this.#group(partition).held.add(partition.index);
  }

  /** The lease on a partition was given up; `yielded`: to another member, who is told at once. */
  released(partition: Partition, yielded: boolean): void {
    this.#groups.get(partition.group)?.held.delete(partition.index);
    if (yielded) this.#changed();
  }

  /**
   * Whether this process should give a partition it holds back, because it holds more than its share (another
   * member joined): the highest ones go, so that all its runners agree on which.
   */
  async shouldYield(partition: Partition, freshMs: number): Promise<boolean> {
    if (this.#database.engine !== 'postgres') return false;
    const group = this.#group(partition);
    await this.#count(partition, group, freshMs);
    const excess = group.held.size - group.share;
    if (excess <= 0) return false;
    const highest = [...group.held].sort((a, b) => b - a).slice(0, excess);
    return highest.includes(partition.index);
  }

  #group(partition: Partition): Group {
    let group = this.#groups.get(partition.group);
    if (group === undefined) {
      group = new Group(partition.count);
      this.#groups.set(partition.group, group);
    }
    return group;
  }

  /** Takes a free member slot; none free means more processes than partitions: this one waits as a standby. */
  async #join(partition: Partition, group: Group): Promise<void> {
    const connection = await this.#connect();
    for (let slot = 0; slot < partition.count; slot++) {
      const { rows } = await connection.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [this.#slotKey(partition.group, slot)],
      );
      if (rows[0]?.locked === true) {
        if (this.#groups.get(partition.group) !== group) {
          // The group's runners stopped while this one joined: give the slot back.
          await connection.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [
            this.#slotKey(partition.group, slot),
          ]);
          return;
        }
        group.slot = slot;
        this.#changed(); // the others count again, and give up what is now beyond their share
        return;
      }
    }
  }

  /** Counts the group's members from the advisory locks held on its slots, unless counted within `freshMs`. */
  async #count(partition: Partition, group: Group, freshMs: number): Promise<void> {
    if (performance.now() - group.countedAt < freshMs) return;
    const { rows } = await this.#database.query<{ members: number }>(
      `SELECT count(*)::int AS members
       FROM generate_series(0, $2::int - 1) AS slot, hashtextextended($1 || slot, 0) AS k, pg_locks l
       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
         AND l.classid = ((k >> 32) & 4294967295)::oid AND l.objid = (k & 4294967295)::oid`,
      [this.#slotKey(partition.group, ''), partition.count],
    );
    group.members = Math.max(1, rows[0]?.members ?? 1);
    group.countedAt = performance.now();
  }

  /** Tells every process that the members or the partitions held changed: they count again and try at once. */
  #changed(): void {
    this.#recount();
    this.#database.notify(this.#channel).catch(() => {}); // a hint: the others also count every so often
  }

  /** Counts the members again at the next look, which the runners take now. */
  #recount(): void {
    for (const group of this.#groups.values()) group.countedAt = Number.NEGATIVE_INFINITY;
    logSignal(this.#database).wake();
  }

  get #channel(): string {
    return channelOf(this.#database, 'members');
  }

  #slotKey(group: string, slot: number | string): string {
    return `myelin.member:${this.#database.schemaName}:${group}:${slot}`;
  }

  /** The connection holding this process's member locks, and hearing the others' changes. */
  #connect(): Promise<Connection> {
    if (this.#connection === undefined) {
      const opening = this.#database.connect().then(async (connection) => {
        await connection.listen(this.#channel, () => this.#recount());
        // The session is gone, and the member locks with it: join again on the next attempt.
        void connection.ended.then(() => {
          if (this.#connection === opening) this.#connection = undefined;
          for (const group of this.#groups.values()) group.slot = undefined;
        });
        return connection;
      });
      opening.catch(() => {
        if (this.#connection === opening) this.#connection = undefined;
      });
      this.#connection = opening;
    }
    return this.#connection;
  }
}

/** The partitioned groups of this process on a database handle. */
export const partitionsOf = perDatabase((database) => new Partitions(database));
