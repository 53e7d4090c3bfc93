// The emmett column of the projections benchmark: Emmett (@event-driven-io/emmett-postgresql) rebuilding the same
// table read model as Myelin's `table` column, from its own event store holding the same log.
//   log         `events` deposits of 1 to streams `acct-<n>` of 10 events each, as Myelin's log holds them
//   projection  an async PostgreSQL projection running, for each event, the same upsert as Myelin's, into
//               `emmett_balances`
//   rebuild     Emmett's consumer from the beginning of the log, in batches of `batchSize`, until no message is
//               left, with a projector that truncates on start (what rebuildPostgreSQLProjections sets up)
// Emmett keeps its tables in `public` (its default); they are emptied before and after.
import type { Event } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, postgreSQLProjection } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';

type Deposited = Event<'bench.deposited.v1', { account: string; amount: number }>;

const readModel = 'emmett_balances';
const streamSize = 10;
// Myelin's log is written in transactions of this many events (as many commands' worth of commits would leave
// it); Emmett's is given the same, which matters as both read the log ordered by transaction.
const seedTransaction = 1000;

// Emmett's driver (dumbo) replaces pg's global parsers of bigint and JSON the first time it makes a pool. They
// are global to the `pg` module, which Myelin shares in this process, so they are put back once the store exists
// (as in the append benchmark). Emmett turns the positions it reads into BigInt itself, so it works on strings too.
const globalParsers = [20, 114, 3802] as const;

/**
 * Seeds Emmett's own event store with `events` events shaped like ours, then measures Emmett rebuilding an
 * equivalent table projection from position 0; returns events/s.
 */
export async function emmettRebuild(
  connectionString: string,
  events: number,
  batchSize: number,
): Promise<number> {
  // The pool size of Myelin's side; Emmett uses the pool it is given (and leaves it open on close).
  const pool = new pg.Pool({ connectionString, max: 8 });
  pool.on('error', () => {});
  const saved = globalParsers.map((oid) => [oid, pg.types.getTypeParser(oid)] as const);
  const store = getPostgreSQLEventStore(connectionString, { connectionOptions: { pool } });
  for (const [oid, parser] of saved) pg.types.setTypeParser(oid, parser);
  try {
    await store.schema.migrate();
    await store.schema.dangerous.truncate({ resetSequences: true });
    await pool.query(`DROP TABLE IF EXISTS ${readModel}`);
    await seed(pool, events);
    await verifySeed(store, pool, events);

    // The upsert is Myelin's, parameterised the same way, on the client of the transaction Emmett opens for
    // each batch (where it also stores its checkpoint after each event).
    const balances = postgreSQLProjection<Deposited>({
      name: readModel,
      canHandle: ['bench.deposited.v1'],
      init: async ({ context }) => {
        await context.connection.client.query(
          `CREATE TABLE IF NOT EXISTS ${readModel} (account text PRIMARY KEY, balance integer NOT NULL)`,
        );
      },
      // What a rebuild runs first (truncateOnStart below): the table is new here, so it costs nothing.
      truncate: async ({ connection: { client } }) => {
        await client.query(`TRUNCATE ${readModel}`);
      },
      handle: async (deposits, { connection: { client } }) => {
        for (const { data } of deposits) {
          await client.query(
            `INSERT INTO ${readModel} (account, balance) VALUES ($1, $2)
             ON CONFLICT (account) DO UPDATE SET balance = ${readModel}.balance + EXCLUDED.balance`,
            [data.account, data.amount],
          );
        }
      },
    });
    // rebuildPostgreSQLProjections builds this consumer, but on a pool of its own (pg's default size) unless
    // given one of dumbo's, a package the benchmark does not depend on; the store's consumer shares its pool.
    const consumer = store.consumer<Deposited>({
      stopWhen: { noMessagesLeft: true },
      // Emmett waits `pullingFrequencyInMs` (50 by default) after every batch, even when more are waiting: 20 s
      // asleep for 200,000 events in batches of 500. Myelin's daemon only waits once it has caught up, so Emmett
      // is given 1 ms (it doubles the wait, up to 1 s, only while idle).
      pulling: { batchSize, pullingFrequencyInMs: 1 },
    });
    consumer.projector({
      projection: balances,
      truncateOnStart: true,
      // rebuildPostgreSQLProjections' policy: wait for a running projector of the same projection to let go.
      lock: { acquisitionPolicy: { type: 'retry', retries: 100, minTimeout: 100, maxTimeout: 5000 } },
    });

    const started = performance.now();
    // Resolves once the puller has found no message left after the last batch and the projector is closed.
    await consumer.start();
    const seconds = (performance.now() - started) / 1000;
    await consumer.close();

    const { rows } = await pool.query<{ sum: number | null; checkpoint: string | null }>(
      `SELECT (SELECT sum(balance)::integer FROM ${readModel}) AS sum,
         (SELECT max(last_processed_checkpoint::bigint)::text FROM emt_processors) AS checkpoint`,
    );
    if (rows[0]?.sum !== events || rows[0].checkpoint !== String(events))
      throw new Error(
        `emmett applied ${rows[0]?.sum} of ${events} events, checkpoint ${rows[0]?.checkpoint}`,
      );
    return Math.round(events / seconds);
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${readModel}`).catch(() => {});
    await store.schema.dangerous.truncate({ resetSequences: true }).catch(() => {});
    await store.close();
    await pool.end();
  }
}

/**
 * Writes the rows `appendToStream` would for each stream (its row, and its events with Emmett's defaults: an
 * empty metadata, schema version '1', kind 'E'), in set-based statements rather than a round trip and a plpgsql
 * call per stream of 10 events.
 */
async function seed(pool: pg.Pool, events: number): Promise<void> {
  for (let start = 0; start < events; start += seedTransaction) {
    const end = Math.min(start + seedTransaction, events) - 1;
    // One statement, so one transaction: pg_current_xact_id() is the transaction id an append records.
    await pool.query(
      `WITH streams AS (
         INSERT INTO emt_streams (stream_id, stream_position, partition, stream_type, stream_metadata, is_archived)
         SELECT 'acct-' || n, least($3::int, $4::int - n * $3::int), 'emt:default', 'acct', '{}', FALSE
         FROM generate_series($1::int / $3::int, $2::int / $3::int) n
       )
       INSERT INTO emt_messages (stream_id, stream_position, global_position, partition, message_data,
         message_metadata, message_schema_version, message_type, message_kind, message_id, transaction_id)
       SELECT 'acct-' || (g / $3::int), g % $3::int + 1, g + 1, 'emt:default',
         jsonb_build_object('account', 'acct-' || (g / $3::int), 'amount', 1), '{}', '1', 'bench.deposited.v1',
         'E', gen_random_uuid()::text, pg_current_xact_id()
       FROM generate_series($1::int, $2::int) g`,
      [start, end, streamSize, events],
    );
  }
  // Global positions were given explicitly; the sequence continues after them, as after that many appends.
  await pool.query(`SELECT setval('emt_global_message_position', $1::bigint)`, [events]);
}

/** Reads the log back through Emmett's API: the first and last streams, and the count. */
async function verifySeed(
  store: ReturnType<typeof getPostgreSQLEventStore>,
  pool: pg.Pool,
  events: number,
): Promise<void> {
  const last = Math.floor((events - 1) / streamSize);
  for (const n of new Set([0, last])) {
    const stream = await store.readStream<Deposited>(`acct-${n}`);
    const expected = Math.min(streamSize, events - n * streamSize);
    const valid = stream.events.every(
      (e, i) =>
        e.type === 'bench.deposited.v1' &&
        e.data.account === `acct-${n}` &&
        e.data.amount === 1 &&
        e.metadata.streamPosition === BigInt(i + 1) &&
        e.metadata.globalPosition === BigInt(n * streamSize + i + 1),
    );
    if (!valid || stream.events.length !== expected || stream.currentStreamVersion !== BigInt(expected))
      throw new Error(`emmett seed: stream acct-${n} does not read back as ${expected} deposits`);
  }
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::integer AS n FROM emt_messages');
  if (rows[0]?.n !== events) throw new Error(`emmett seed: ${rows[0]?.n} of ${events} events`);
}
