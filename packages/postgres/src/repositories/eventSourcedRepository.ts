import {
  type AggregateRoot,
  type AggregateType,
  ConcurrencyError,
  type EventDefinition,
  keyIdsOf,
  type Repository,
  type StoredEvent,
  type Token,
} from '@myelin/core';
import type { Provider } from '@myelin/core/container';
import { prepared, type Sql } from '../database/database.ts';
import { appendToStream, PostgresUpcasting, streamVersion } from '../eventStore/postgresEventStore.ts';
import { PostgresProtection } from '../personalData/protection.ts';
import {
  type Change,
  type PostgresUnitOfWork,
  PostgresUnitOfWorkToken,
  trackingMethods,
} from '../unitOfWork/postgresUnitOfWork.ts';

export interface PostgresEventSourcedOptions {
  /** Every event the aggregate raises, so stored events can be turned back into instances. */
  readonly events: readonly EventDefinition[];
  /** The prefix of the aggregate's streams (`${stream}-${id}`); defaults to the class's name. */
  readonly stream?: string;
  /**
   * Store a snapshot of the state every this many events, so loading reads the snapshot and the events after it
   * rather than the whole stream. Off by default. The state must survive JSON (plain data).
   */
  readonly snapshotEvery?: number;
  /**
   * The shape of the snapshotted state. Raise it when the state's shape changes: older snapshots are then ignored
   * (and replaced by the next one), and the aggregate is rebuilt from its events. Defaults to 1.
   */
  readonly snapshotVersion?: number;
}

/** An event as a load reads it: null type when the stream has no event after the snapshot. */
interface HistoryRow {
  readonly type: string | null;
  readonly type_version: number;
  readonly data: unknown;
  readonly removed: boolean;
}

interface SnapshotRow {
  readonly version: number;
  readonly state: unknown;
}

/**
 * A repository rebuilding each aggregate from its stream of events (optionally from a snapshot and the events
 * after it). A commit appends the aggregate's new events with the version it was loaded at as the expected
 * version, so a concurrent writer's commit fails with a conflict instead of being overwritten.
 * @example app.register(postgresEventSourcedRepository(Orders, Order, { events: [OrderPlaced, OrderCancelled] }));
 */
export function postgresEventSourcedRepository<TAggregate extends AggregateRoot<any, any>>(
  repositoryToken: Token<Repository<TAggregate>>,
  type: AggregateType<TAggregate>,
  options: PostgresEventSourcedOptions,
): Provider<
  Repository<TAggregate>,
  {
    work: Token<PostgresUnitOfWork>;
    upcast: typeof PostgresUpcasting;
    protection: typeof PostgresProtection;
  }
> {
  const prefix = options.stream ?? type.name;
  const snapshotEvery = options.snapshotEvery;
  const snapshotVersion = options.snapshotVersion ?? 1;
  if (snapshotEvery !== undefined && (!Number.isInteger(snapshotEvery) || snapshotEvery < 1)) {
    throw new TypeError(`snapshotEvery must be a positive integer, not ${snapshotEvery}`);
  }
  const definitions = new Map(options.events.map((definition) => [definition.type, definition]));
  const personal = options.events.find((definition) => definition.options.personal !== undefined);
  // The data keys each loaded or written aggregate's events were sealed with: its snapshot is sealed with the same
  // key, since its state holds what they held.
  const sealedWith = new WeakMap<object, ReadonlySet<string>>();
  const snapshotDue = (change: Change) =>
    snapshotEvery !== undefined &&
    change.operation !== 'remove' &&
    Math.floor(change.aggregate.nextVersion / snapshotEvery) >
      Math.floor(change.aggregate.version / snapshotEvery);

  return {
    token: repositoryToken,
    lifetime: 'scoped',
    dependencies: {
      work: PostgresUnitOfWorkToken,
      upcast: PostgresUpcasting,
      protection: PostgresProtection,
    },
    factory: ({ work, upcast, protection }) => {
      const { database } = work;
      const s = database.schema;
      const key = (id: string) => `events:${prefix}:${id}`;
      const streamOf = (id: string) => `${prefix}-${id}`;

      const write = async (sql: Sql, change: Change): Promise<readonly StoredEvent[]> => {
        const { aggregate, operation, events } = change;
        const stream = streamOf(aggregate.id);
        const appended =
          events.length === 0
            ? []
            : (
                await appendToStream(
                  sql,
                  s,
                  stream,
                  events,
                  operation === 'add' ? 'no_stream' : aggregate.version,
                )
              ).events;
        if (operation === 'remove') {
          const { rows } = await sql.query(
            `UPDATE ${s}.streams SET removed = true WHERE stream_id = $1 AND version = $2 AND NOT removed
             RETURNING version`,
            [stream, aggregate.nextVersion],
          );
          if (rows.length === 0) {
            throw new ConcurrencyError(stream, aggregate.version, await streamVersion(sql, s, stream));
          }
        }
        const keys = new Set([...(sealedWith.get(aggregate) ?? []), ...keyIdsOf(events)]);
        if (keys.size > 0) sealedWith.set(aggregate, keys);
        // A state with personal data is sealed with its subject's key; none is kept once the key is gone, nor for
        // a state holding several subjects' data (no one key covers it).
        const state = !snapshotDue(change)
          ? undefined
          : keys.size === 0
            ? aggregate.state
            : keys.size === 1
              ? await protection.sealValue(sql, [...keys][0] as string, aggregate.state)
              : undefined;
        if (state !== undefined) {
          await sql.query(
            `INSERT INTO ${s}.snapshots (stream_id, version, schema_version, state) VALUES ($1, $2, $3, $4::jsonb)
             ON CONFLICT (stream_id) DO UPDATE
               SET version = EXCLUDED.version, schema_version = EXCLUDED.schema_version, state = EXCLUDED.state,
                   taken_at = now()
               WHERE ${s}.snapshots.version < EXCLUDED.version OR ${s}.snapshots.schema_version <> EXCLUDED.schema_version`,
            [stream, aggregate.nextVersion, snapshotVersion, JSON.stringify(state)],
          );
        }
        return appended;
      };

      const tracking = (aggregate: TAggregate, operation: Change['operation']) => ({
        aggregate,
        operation,
        changed: (change: Change) => change.events.length > 0 || change.operation === 'remove',
        // One append statement is atomic by itself; a removal or a snapshot adds a statement.
        single: (change: Change) => change.operation !== 'remove' && !snapshotDue(change),
        write,
      });

      // An aggregate is rebuilt from its events' payloads, types and versions (all that upcasting reads): the rest
      // of their metadata is left in the database.
      const toEvent = (row: HistoryRow & { readonly type: string }) => {
        const { data, metadata } = upcast({
          data: row.data,
          metadata: { type: row.type, version: row.type_version },
        });
        const definition = definitions.get(metadata.type);
        if (definition === undefined) {
          throw new Error(`${type.name} repository: event type '${metadata.type}' is not in its events list`);
        }
        return new definition(data);
      };
      const snapshotSql = `SELECT version, state FROM ${s}.snapshots WHERE stream_id = $1 AND schema_version = $2`;
      // One row per event after the snapshot, or one row of nulls when there is none, with the stream's flag.
      const historySql = `SELECT e.type, e.type_version, e.data, st.removed FROM ${s}.streams st
        LEFT JOIN ${s}.events e ON e.stream_id = st.stream_id AND e.stream_version > $2
        WHERE st.stream_id = $1 ORDER BY e.stream_version`;

      return {
        async get(id) {
          const tracked = work.tracked(key(id));
          if (tracked !== undefined) return tracked as TAggregate;
          const stream = streamOf(id);
          let snapshot: SnapshotRow | undefined;
          const keys = new Set<string>();
          if (snapshotEvery !== undefined) {
            const { rows } = await database.query<SnapshotRow>(
              snapshotSql,
              [stream, snapshotVersion],
              prepared,
            );
            snapshot = rows[0];
            // A sealed snapshot whose key is gone is not read: the events after erasure give placeholders.
            const opened = snapshot === undefined ? undefined : await protection.openValue(snapshot.state);
            if (snapshot !== undefined) for (const id of keyIdsOf([{ data: snapshot.state }])) keys.add(id);
            snapshot =
              snapshot === undefined || opened === undefined
                ? undefined
                : { ...snapshot, state: opened.value };
          }
          const { rows } = await database.query<HistoryRow>(
            historySql,
            [stream, snapshot?.version ?? 0],
            prepared,
          );
          if (rows.length === 0 || rows[0]?.removed === true) return undefined;
          const history = rows.filter(
            (row): row is HistoryRow & { readonly type: string } => row.type !== null,
          );
          // Personal data opened (placeholders once forgotten): only events that have any cost a look-up.
          const opened =
            personal === undefined
              ? history
              : (
                  await protection.reveal(
                    history.map((row) => ({ data: row.data, metadata: { type: row.type } })),
                  )
                ).map((event, i) => ({ ...(history[i] as (typeof history)[number]), data: event.data }));
          const events = opened.map(toEvent);
          const aggregate = new type(id).loadFromHistory(events, snapshot?.version ?? 0, snapshot?.state);
          for (const keyId of keyIdsOf(history)) keys.add(keyId);
          if (keys.size > 0) sealedWith.set(aggregate, keys);
          work.track(key(id), tracking(aggregate, 'loaded'));
          return aggregate;
        },
        async exists(id) {
          const { rows } = await database.query(
            `SELECT FROM ${s}.streams WHERE stream_id = $1 AND NOT removed AND version > 0`,
            [streamOf(id)],
            prepared,
          );
          return rows.length > 0;
        },
        ...trackingMethods(work, key, tracking),
      };
    },
  };
}
