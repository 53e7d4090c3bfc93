import { type Behavior, BehaviorOrder, behavior } from '@myelin/core';
import type { Sql } from '../database/database.ts';
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
      const s = work.database.schema;
      const { rows } = await work.database.query(
        `SELECT FROM ${s}.inbox WHERE consumer = $1 AND event_id = $2`,
        [consumer, event.eventId],
      );
      if (rows.length > 0) return;
      work.enlist(async (sql: Sql) => {
        await sql.query(`INSERT INTO ${s}.inbox (consumer, event_id) VALUES ($1, $2)`, [
          consumer,
          event.eventId,
        ]);
      });
      return next();
    },
  );
}
