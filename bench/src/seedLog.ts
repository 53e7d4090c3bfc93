import { type Database, migrate } from '@myelin/postgres';

/**
 * A fresh schema whose log holds `count` events of `type`, 10 to a stream (`<prefix>-<g / 10>`), with the data
 * `dataSql` makes of `g`, the event's number. Inserted in transactions of 1,000 events, as many commands' commits
 * would leave them, and far faster than appending them one by one.
 */
export async function seedLog(
  database: Database,
  options: { type: string; count: number; prefix: string; dataSql: string },
): Promise<void> {
  await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
  await migrate(database);
  for (let start = 0; start < options.count; start += 1000) {
    await database.query(
      `INSERT INTO ${database.schema}.events
         (event_id, stream_id, stream_version, type, type_version, data, occurred_at, correlation_id)
       SELECT gen_random_uuid()::text, $4 || '-' || (g / 10), (g % 10) + 1, $3, 1, ${options.dataSql}, now(), 'bench'
       FROM generate_series($1::int, $2::int) g`,
      [start, Math.min(start + 999, options.count - 1), options.type, options.prefix],
    );
  }
}
