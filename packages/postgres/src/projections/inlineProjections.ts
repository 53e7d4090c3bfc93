// Inline projections: applied in the commit that writes their events, and marked so that their runner does not
// apply those events again.
import { type Projection, positionParts, type StoredEvent } from '@myelin/core';
import type { Sql } from '../database/database.ts';
import type { ReadEvents } from '../personalData/protection.ts';
import type { PostgresUnitOfWork } from '../unitOfWork/postgresUnitOfWork.ts';
import { documentKey, documentWriter, tableNames, tableWriter } from './readModels.ts';

/** Enlists the inline projections in a unit of work: they run in its commit when it writes their events. */
export function enlistInline(inline: readonly Projection[]) {
  const typesOf = new Map(inline.map((p) => [p, new Set(p.handlers.keys())]));
  return (work: PostgresUnitOfWork, read: ReadEvents): void => {
    for (const p of inline) {
      const types = typesOf.get(p) as Set<string>;
      work.enlist(
        async (sql, stored) => {
          const events = stored.filter((event) => types.has(event.metadata.type));
          if (events.length === 0) return;
          // FOR SHARE: a new version switching to inline waits for this commit, and this one for the switch.
          const { rows } = await sql.query<{ status: string }>(
            `SELECT status FROM ${work.database.schema}.projections WHERE name = $1 AND version = $2 FOR SHARE`,
            [p.name, p.version],
          );
          // While building, its runner applies these events; once retired, a newer version serves.
          if (rows[0]?.status !== 'active') return;
          await apply(sql, work.database.schema, p, events, read);
          await markApplied(sql, work.database.schema, p, ['current']);
        },
        (written) => [...written].some((type) => types.has(type)),
      );
    }
  };
}

/**
 * Records that transactions applied a version of an inline projection themselves (`current`: this one), so that
 * its runner does not apply their events again.
 */
export async function markApplied(
  sql: Sql,
  schema: string,
  p: Projection,
  transactions: readonly string[],
): Promise<void> {
  if (transactions.length === 0) return;
  await sql.query(
    transactions[0] === 'current'
      ? `INSERT INTO ${schema}.inline_marks (projection, version, transaction_id)
         VALUES ($1, $2, pg_current_xact_id()) ON CONFLICT DO NOTHING`
      : `INSERT INTO ${schema}.inline_marks (projection, version, transaction_id)
         SELECT $1, $2, t::xid8 FROM jsonb_array_elements_text($3::text::jsonb) t ON CONFLICT DO NOTHING`,
    transactions[0] === 'current' ? [p.name, p.version] : [p.name, p.version, JSON.stringify(transactions)],
  );
}

/** The events of a batch whose transactions did not apply the inline projection themselves. */
export async function unmarked(
  sql: Sql,
  schema: string,
  p: Projection,
  events: readonly StoredEvent[],
): Promise<readonly StoredEvent[]> {
  if (events.length === 0) return events;
  const transactions = [...new Set(events.map((event) => positionParts(event.position).transaction))];
  const { rows } = await sql.query<{ tx: string }>(
    `SELECT transaction_id::text AS tx FROM ${schema}.inline_marks WHERE projection = $1 AND version = $2
       AND transaction_id IN (SELECT t::xid8 FROM jsonb_array_elements_text($3::text::jsonb) t)`,
    [p.name, p.version, JSON.stringify(transactions)],
  );
  const marked = new Set(rows.map((row) => row.tx));
  return events.filter((event) => !marked.has(positionParts(event.position).transaction));
}

/** Applies events to a version of a projection's read model, through `sql` (a transaction). */
export async function apply(
  sql: Sql,
  schema: string,
  p: Projection,
  events: readonly StoredEvent[],
  read: ReadEvents,
): Promise<void> {
  const writer =
    p.model.kind === 'documents'
      ? documentWriter(sql, schema, documentKey(p.name, p.version))
      : tableWriter(sql, tableNames(schema, p.name, p.version), p.model.key);
  const handled = events.filter((event) => p.handlers.has(event.metadata.type));
  for (const event of await read(sql, handled)) {
    const handler = p.handlers.get(event.metadata.type);
    if (handler === undefined) continue;
    await handler.handle(new handler.definition(event.data), writer as never, event);
  }
  await writer.flush(); // the documents or rows written, once each, in the same transaction
}
