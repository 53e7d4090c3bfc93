import { type Behavior, BehaviorOrder, behavior } from '@myelin/core';
import { type Database, prepared, type Sql } from '../database/database.ts';
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
      const consumer = relaySubscription(event.type, delivery.handler);
      if (await handled(work.database, consumer, event.eventId)) return;
      // One statement for every delivery committing in the same transaction (see GroupCommit).
      const schema = work.database.schema;
      const entry: InboxEntry = { consumer, eventId: event.eventId };
      work.enlistBatched('myelin.inbox', entry, (sql, entries) => recordHandled(sql, schema, entries));
      return next();
    },
  );
}

interface InboxEntry {
  readonly consumer: string;
  readonly eventId: string;
}

async function recordHandled(sql: Sql, schema: string, entries: readonly InboxEntry[]): Promise<void> {
  await sql.query(
    `INSERT INTO ${schema}.inbox (consumer, event_id) SELECT * FROM unnest($1::text[], $2::text[])`,
    [entries.map((entry) => entry.consumer), entries.map((entry) => entry.eventId)],
  );
}

interface Lookup {
  readonly ids: Map<string, ((seen: boolean) => void)[]>;
  readonly failed: ((error: unknown) => void)[];
}

const pending = new WeakMap<Database, Map<string, Lookup>>();

/**
 * Whether the inbox holds the id. A bus consumer delivers many messages at once; the lookups they make in one
 * turn of the event loop go to the database as one query per consumer, not one each.
 */
function handled(database: Database, consumer: string, eventId: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let byConsumer = pending.get(database);
    if (byConsumer === undefined) {
      byConsumer = new Map();
      pending.set(database, byConsumer);
      const batch = byConsumer;
      setImmediate(() => {
        pending.delete(database);
        for (const [name, lookup] of batch) void look(database, name, lookup);
      });
    }
    let lookup = byConsumer.get(consumer);
    if (lookup === undefined) {
      lookup = { ids: new Map(), failed: [] };
      byConsumer.set(consumer, lookup);
    }
    const waiting = lookup.ids.get(eventId);
    if (waiting === undefined) lookup.ids.set(eventId, [resolve]);
    else waiting.push(resolve);
    lookup.failed.push(reject);
  });
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

async function look(database: Database, consumer: string, lookup: Lookup): Promise<void> {
  try {
    const ids = [...lookup.ids.keys()];
    // Prepared: a consumer sends it for every batch of deliveries.
    const { rows } = await database.query<{ event_id: string }>(
      inboxLookup(database.schema),
      [consumer, ids],
      prepared,
    );
    const seen = new Set(rows.map((row) => row.event_id));
    for (const [id, resolvers] of lookup.ids) for (const resolve of resolvers) resolve(seen.has(id));
  } catch (error) {
    for (const reject of lookup.failed) reject(error);
  }
}
