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
  /** False once the session holding its lock has ended: stop before the next effect. */
  readonly active: boolean;
  /** Settles when the lease is lost. */
  readonly lost: Promise<void>;
}

/** A write made under a lease the process no longer holds: another process runs the subscription now. */
export class LeaseLostError extends Error {
  constructor(name: string) {
    super(`The lease on subscription '${name}' was lost: another process runs it now`);
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
 * releases its locks, so a standby's next attempt takes over. Taking a lease moves the subscription's epoch; every
 * write of a runner checks it, so a runner that lost its lease without noticing (a network partition) cannot write.
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
      const { rows: claimed } = await this.#database.query<{ epoch: string; tx: string; seq: string }>(
        `INSERT INTO ${s}.subscriptions AS s (name, epoch, holder, types) VALUES ($1, 1, $2, $3::text::jsonb)
         ON CONFLICT (name) DO UPDATE
           SET epoch = s.epoch + 1, holder = EXCLUDED.holder, types = EXCLUDED.types, updated_at = now()
         RETURNING epoch::text, transaction_id::text AS tx, sequence::text AS seq`,
        [name, processName, types === undefined ? null : JSON.stringify(types)],
      );
      const row = claimed[0] as (typeof claimed)[number];
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
  const { transaction, sequence } = positionParts(position);
  const { rowCount } = await sql.query(
    `UPDATE ${schema}.subscriptions SET transaction_id = $2::text::xid8, sequence = $3::bigint, updated_at = now(),
       handled = handled + CASE WHEN (transaction_id, sequence) = ($2::text::xid8, $3::bigint) THEN 0 ELSE $5::int END
     WHERE name = $1 AND epoch = $4::bigint`,
    [lease.name, transaction, sequence, lease.epoch, handled],
    prepared,
  );
  if (rowCount === 0) throw new LeaseLostError(lease.name);
}

/** The leases of this process on a database handle. */
export const leasesOf = perDatabase((database) => new Leases(database));
