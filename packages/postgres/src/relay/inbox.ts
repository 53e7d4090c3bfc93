import { type Behavior, BehaviorOrder, behavior } from '@myelin/core';
import { type Database, prepared, type Sql } from '../database/database.ts';
import { textArray } from '../database/textArray.ts';
import type { BatchWrite } from '../unitOfWork/batchedWrites.ts';
import { PostgresUnitOfWorkToken } from '../unitOfWork/postgresUnitOfWork.ts';
import { relaySubscription } from './eventRelay.ts';

/**
 * For a handler declared `idempotent`: skips an event whose id its inbox holds, and otherwise records the id in
 * the handler's unit of work, so the id and the handler's effects commit together or not at all. Two deliveries
 * racing both run; the second commit fails on the inbox's key and is retried, then skipped. Registered by
 * `postgresPersistence`, inside the event unit of work.
 */
export function inbox(): Behavior {
  return behavior(
    {
      name: 'inbox',
      order: BehaviorOrder.unitOfWork + 1,
      scope: 'events',
      dependencies: { work: PostgresUnitOfWorkToken },
    },
    async (_event, next, context, { work }) => {
      const { delivery, event } = context;
      if (delivery?.idempotent !== true || event === undefined) return next();
      let consumer = consumers.get(delivery);
      if (consumer === undefined) {
        consumer = relaySubscription(event.type, delivery.handler);
        consumers.set(delivery, consumer);
      }
      if ((await handled(work.database, consumer, event.eventId)).has(event.eventId)) return;
      // One statement for every delivery committing in the same transaction (see GroupCommit).
      const entry: InboxEntry = { consumer, eventId: event.eventId };
      work.enlistBatched('myelin.inbox', entry, inboxRecorder(work.database.schema));
      return next();
    },
  );
}

/** Each delivery's inbox name, made once: a string built per event is also hashed afresh as a map key. */
const consumers = new WeakMap<object, string>();

/** @internal */
export interface InboxEntry {
  readonly consumer: string;
  readonly eventId: string;
}

const recorders = new Map<string, BatchWrite<InboxEntry>>();

/**
 * Writes a batch's inbox entries into the schema's inbox in one statement: one function per schema, not per
 * event. The ids go as array literals (see textArray); a group of one handler's deliveries, what a bus consumer
 * commits, gives the handler's name once rather than once per row. @internal
 */
export function inboxRecorder(schema: string): BatchWrite<InboxEntry> {
  let record = recorders.get(schema);
  if (record === undefined) {
    record = (sql: Sql, entries: readonly InboxEntry[]) => {
      const consumer = (entries[0] as InboxEntry).consumer;
      return entries.every((entry) => entry.consumer === consumer)
        ? sql.query(
            `INSERT INTO ${schema}.inbox (consumer, event_id) SELECT $1, unnest($2::text[])`,
            [consumer, textArray(entries.map((entry) => entry.eventId))],
            prepared,
          )
        : sql.query(
            `INSERT INTO ${schema}.inbox (consumer, event_id) SELECT * FROM unnest($1::text[], $2::text[])`,
            [
              textArray(entries.map((entry) => entry.consumer)),
              textArray(entries.map((entry) => entry.eventId)),
            ],
            prepared,
          );
    };
    recorders.set(schema, record);
  }
  return record;
}

interface Lookup {
  readonly ids: Set<string>;
  /** Settles the lookup's outcome, shared by every delivery that asked: the ids the inbox holds. */
  readonly answer: (seen: Promise<ReadonlySet<string>>) => void;
  readonly seen: Promise<ReadonlySet<string>>;
}

const pending = new WeakMap<Database, Map<string, Lookup>>();

/**
 * The ids, among those asked for in this turn of the event loop, that the consumer's inbox holds. A bus consumer
 * delivers many messages at once; their lookups go to the database as one query per consumer, not one each, and
 * they share its answer (one promise for all, rather than one each).
 */
function handled(database: Database, consumer: string, eventId: string): Promise<ReadonlySet<string>> {
  let byConsumer = pending.get(database);
  if (byConsumer === undefined) {
    const batch = new Map<string, Lookup>();
    byConsumer = batch;
    pending.set(database, batch);
    setImmediate(() => {
      pending.delete(database);
      for (const [name, lookup] of batch) lookup.answer(look(database, name, lookup.ids));
    });
  }
  let lookup = byConsumer.get(consumer);
  if (lookup === undefined) {
    const { promise, resolve } = Promise.withResolvers<ReadonlySet<string>>();
    lookup = { ids: new Set(), answer: resolve, seen: promise };
    byConsumer.set(consumer, lookup);
  }
  lookup.ids.add(eventId);
  return lookup.seen;
}

/**
 * The ids among `$2` that consumer `$1`'s inbox holds. One index probe per id, whatever the statistics say: with
 * `event_id = ANY($2)`, a table that grew since it was last analyzed (a new service catching up) was read as a
 * bitmap of every row of the consumer, filtered, which made each lookup cost as much as the whole inbox. The
 * lateral subquery with LIMIT cannot be turned into such a scan or a hash join. @internal
 */
export function inboxLookup(schema: string): string {
  return `SELECT i.id AS event_id FROM unnest($2::text[]) AS i(id) CROSS JOIN LATERAL (
    SELECT FROM ${schema}.inbox WHERE consumer = $1 AND event_id = i.id LIMIT 1) handled`;
}

async function look(
  database: Database,
  consumer: string,
  ids: ReadonlySet<string>,
): Promise<ReadonlySet<string>> {
  // Prepared: a consumer sends it for every batch of deliveries.
  const { rows } = await database.query<{ event_id: string }>(
    inboxLookup(database.schema),
    [consumer, textArray([...ids])],
    prepared,
  );
  return new Set(rows.map((row) => row.event_id));
}
