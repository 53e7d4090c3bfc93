// Emmett's PostgreSQL event store (@event-driven-io/emmett-postgresql), with its default schema setup (its tables
// and functions in the `public` schema, created by its own migrations) and a pool of the same size as the others.
import { isExpectedVersionConflictError } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { type Appender, connectionString, poolSize } from './workload.ts';

// Emmett's driver (dumbo) replaces pg's global parsers of bigint and JSON on first use (bigint to BigInt, JSON
// through its own serializer). They are global to the `pg` module, which Myelin and the twin share, so they are put
// back once the store exists: the others then read what they would without Emmett in the process. Emmett's append
// only turns the bigints it reads into BigInt itself, which works on strings as well.
const globalParsers = [20, 114, 3802] as const;

export async function setUpEmmett(): Promise<Appender> {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  pool.on('error', () => {});
  const saved = globalParsers.map((oid) => [oid, pg.types.getTypeParser(oid)] as const);
  // Given a pool, Emmett uses it (and leaves it open on close); otherwise it opens one of pg's default size, 10.
  const store = getPostgreSQLEventStore(connectionString, { connectionOptions: { pool } });
  for (const [oid, parser] of saved) pg.types.setTypeParser(oid, parser);
  await store.schema.migrate();

  return {
    async append(streamId, events, expectedVersion) {
      await store.appendToStream(
        streamId,
        events.map(({ data, metadata }) => ({
          type: metadata.type,
          data: data as Record<string, unknown>,
          // Emmett keeps the id as the message id and the rest as the message's JSON metadata.
          metadata: {
            messageId: metadata.eventId,
            correlationId: metadata.correlationId,
            causationId: metadata.causationId,
            principal: metadata.principal,
          },
        })),
        { expectedStreamVersion: BigInt(expectedVersion) },
      );
    },
    isConflict: isExpectedVersionConflictError,
    reset: () => store.schema.dangerous.truncate({ resetSequences: true }),
    async count() {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::integer AS n FROM emt_messages');
      return rows[0]?.n ?? 0;
    },
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
