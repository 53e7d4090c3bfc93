import { hostname } from 'node:os';
import type { LogPosition } from '@myelin/core';
import { logPosition, positionParts } from '@myelin/core';
import { type Connection, type Database, prepared, type Sql } from '../database/database.ts';
import { logSignal, perDatabase, scheduleSignal } from './logSignal.ts';

/** A subscription this process runs: its epoch fences every write, and where it had read to. */
export interface Lease {
  readonly name: string;
  readonly epoch: string;
  readonly checkpoint: LogPosition;
  /**
   * False once the session holding its lock has ended, or has gone unheard from for long enough that the server
   * may soon end it (a network cut): stop before the next effect. It never turns true again.
   */
  readonly active: boolean;
  /** Settles when the lease is lost. */
  readonly lost: Promise<void>;
}

/** A write made under a lease the process no longer holds: another process runs the subscription now. */
export class LeaseLostError extends Error {
  /** A handover, not a failure: `reportErrors` logs it as a warning. */
  readonly expected = true;
  /** `why`: what happened, when more is known than that the lease is gone. */
  constructor(name: string, why = 'another process runs it now') {
    super(`The lease on subscription '${name}' was lost: ${why}`);
    this.name = 'LeaseLostError';
  }
}

class HeldLease implements Lease {
  readonly name: string;
  readonly epoch: string;
  readonly checkpoint: LogPosition;
  readonly connection: Connection;
  readonly lost: Promise<void>;
  #active = true;
  #markLost: () => void = () => {};

  constructor(name: string, epoch: string, checkpoint: LogPosition, connection: Connection) {
    this.name = name;
    this.epoch = epoch;
    this.checkpoint = checkpoint;
    this.connection = connection;
    this.lost = new Promise((resolve) => (this.#markLost = resolve));
  }

  get active(): boolean {
    // Asked of the session each time: a cut is noticed here before the timers that watch for it run.
    if (this.#active && !this.connection.alive) this.markLost();
    return this.#active;
  }

  markLost(): void {
    this.#active = false;
    this.#markLost();
  }
}

/**
 * The leases of one process on one database: a session-level advisory lock per subscription, all held by one
 * connection of its own (which also LISTENs for commits). When the process dies, PostgreSQL ends the session and
 * releases its locks, so a standby's next attempt takes over.
 *
 * Across a network cut the server does not see the process go, so the lease is bounded in time on both sides (the
 * database's `leaseMs`): the server ends a session it has not heard from for half the lease time, which frees its
 * locks; this side gives the session up when it has not heard the server for 0.4 of it, a margin earlier, and its
 * leases are lost from that moment (`active` turns false, `lost` settles). So the holder stops before a standby can
 * take over. Taking a lease moves the subscription's epoch, and every checkpoint write checks it in its own
 * transaction: a write of the old holder that arrives late (sent before it stopped, delayed in the network) is
 * refused, and its transaction rolls back with its effects. A holder frozen rather than cut off (SIGSTOP) is heard by
 * the server's TCP all along: the server ends its session once idle for half the lease time, as long as it waits
 * across a cut, and on waking the holder finds its lease given up (not heard for 0.4 of it) and its epoch gone.
 */
export class Leases {
  readonly #database: Database;
  /** The leases held, and the names being acquired (undefined), by subscription name. */
  readonly #held = new Map<string, HeldLease | undefined>();
  #connection: Promise<Connection> | undefined;
  #users = 0;

  constructor(database: Database) {
    this.#database = database;
  }

  /**
   * Tries to take the lease on `name`; undefined when another runner (in this process or another) holds it. The
   * subscription records this process as its holder and the event `types` it reads (all when absent).
   */
  async tryAcquire(name: string, types?: readonly string[]): Promise<Lease | undefined> {
    if (this.#held.has(name)) return undefined;
    this.#held.set(name, undefined);
    try {
      const connection = await this.#connect();
      const { rows } = await connection.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [this.#key(name)],
      );
      if (rows[0]?.locked !== true) {
        this.#held.delete(name);
        return undefined;
      }
      const s = this.#database.schema;
      // The epoch moves once the lock is held: a write of the previous holder still in flight waits for this (the
      // row's lock) or, arriving after it, finds its epoch gone.
      const claimed = await this.#database
        .query<{ epoch: string; tx: string; seq: string }>(
          `INSERT INTO ${s}.subscriptions AS s (name, epoch, holder, types) VALUES ($1, 1, $2, $3::text::jsonb)
           ON CONFLICT (name) DO UPDATE
             SET epoch = s.epoch + 1, holder = EXCLUDED.holder, types = EXCLUDED.types, updated_at = now()
           RETURNING epoch::text, transaction_id::text AS tx, sequence::text AS seq`,
          [name, processName, types === undefined ? null : JSON.stringify(types)],
        )
        .catch(async (error: unknown) => {
          // Not taken after all (the row's lock is held by the previous holder's transaction, still open on a
          // server that has not yet ended its session): the lock goes back. Session locks count, and one taken
          // twice would need two unlocks, so kept it would outlive this lease.
          await connection
            .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.#key(name)])
            .catch(() => {});
          throw error;
        });
      const row = claimed.rows[0] as (typeof claimed.rows)[number];
      const lease = new HeldLease(name, row.epoch, logPosition(row.tx, row.seq), connection);
      this.#held.set(name, lease);
      return lease;
    } catch (error) {
      this.#held.delete(name);
      throw error;
    }
  }

  /** Gives a lease up, so a standby can take it at once (a lease already lost or replaced is left alone). */
  async release(lease: Lease): Promise<void> {
    if (this.#held.get(lease.name) !== lease) return;
    this.#held.delete(lease.name);
    const held = lease as HeldLease;
    if (!held.active) return; // its session is gone, and its lock with it
    await held.connection
      .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.#key(lease.name)])
      .catch(() => {});
  }

  /** How many leases this process holds now. */
  get held(): number {
    let held = 0;
    for (const lease of this.#held.values()) if (lease?.active === true) held++;
    return held;
  }

  /** A runner starts using the leases. */
  retain(): void {
    this.#users++;
  }

  /** A runner stopped: the last one closes the leases' connection. */
  async unretain(): Promise<void> {
    if (--this.#users === 0) await this.close();
  }

  /** Closes the leases' connection (every lease is released with it). */
  async close(): Promise<void> {
    const connection = await this.#connection?.catch(() => undefined);
    this.#connection = undefined;
    for (const lease of this.#held.values()) lease?.markLost();
    this.#held.clear();
    await connection?.release();
  }

  #key(name: string): string {
    return `myelin.subscription:${this.#database.schemaName}:${name}`;
  }

  #connect(): Promise<Connection> {
    if (this.#connection === undefined) {
      const signal = logSignal(this.#database);
      const opening = this.#database.connect().then(async (connection) => {
        if (this.#database.engine === 'postgres') {
          // A frozen holder's session is ended by the server once idle for half the lease time (see connect()).
          await connection.listen(signal.channel, () => signal.wake());
          // The scheduler runs under a lease too: it hears schedules written by other processes here.
          const schedules = scheduleSignal(this.#database);
          await connection.listen(schedules.channel, () => schedules.wake());
        }
        // The session is gone, and its locks with it: its leases are lost; the next attempt opens a new one.
        void connection.ended.then(() => {
          if (this.#connection === opening) this.#connection = undefined;
          for (const [name, lease] of this.#held) {
            if (lease?.connection === connection) {
              lease.markLost();
              this.#held.delete(name);
            }
          }
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

/** How the console and the logs name this process: host and pid. */
export const processName = `${hostname()}/${process.pid}`;

/**
 * Moves a subscription's checkpoint, in the caller's transaction, if its lease is still the current one, and counts
 * the events `handled` since the last move (once: a second write of the same position adds none).
 */
export async function writeCheckpoint(
  sql: Sql,
  schema: string,
  lease: Lease,
  position: LogPosition,
  handled = 0,
): Promise<void> {
  // Lost on this side already (a cut noticed): not even sent, and the caller's transaction rolls back.
  if (!lease.active)
    throw new LeaseLostError(lease.name, 'this process no longer holds it, and did not write');
  const { transaction, sequence } = positionParts(position);
  const { rowCount } = await sql.query(
    `UPDATE ${schema}.subscriptions SET transaction_id = $2::text::xid8, sequence = $3::bigint, updated_at = now(),
       handled = handled + CASE WHEN (transaction_id, sequence) = ($2::text::xid8, $3::bigint) THEN 0 ELSE $5::int END
     WHERE name = $1 AND epoch = $4::bigint`,
    [lease.name, transaction, sequence, lease.epoch, handled],
    prepared,
  );
  if (rowCount === 0)
    throw new LeaseLostError(
      lease.name,
      'another process took it over, or an operator restarted it (a rebuild), and this write was refused',
    );
}

/** The leases of this process on a database handle. */
export const leasesOf = perDatabase((database) => new Leases(database));
