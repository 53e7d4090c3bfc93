import {
  type Application,
  type ApplicationBuilder,
  BehaviorOrder,
  behavior,
  comparePositions,
  ExecutionContext,
  type LogPosition,
  logPosition,
  positionParts,
  type StoredEvent,
  startOfLog,
  type Token,
  token,
} from '@myelin/core';
import { type Database, prepared, type Sql, type TransactionOptions } from '../database/database.ts';
import {
  type EventRow,
  eventColumns,
  PostgresUpcasting,
  toStoredEvent,
} from '../eventStore/postgresEventStore.ts';
import { PostgresDatabase } from '../postgresPersistence.ts';
import { listenForCommits } from '../subscriptions/commitListener.ts';
import { progressSignal } from '../subscriptions/logSignal.ts';
import {
  type Consumer,
  type RunnerOptions,
  SubscriptionRunner,
} from '../subscriptions/subscriptionRunner.ts';
import { type PostgresUnitOfWork, PostgresUnitOfWorkToken } from '../unitOfWork/postgresUnitOfWork.ts';
import type { Projection } from './projection.ts';
import { documentKey, documentReader, documentWriter, tableNames, tableWriter } from './readModels.ts';

/** The projections an application registered with {@link postgresProjections}. */
export const RegisteredProjections = token<readonly Projection[]>('RegisteredProjections');

export interface ProjectionsOptions {
  /** How long a query asking to read its writes waits for an async read model; defaults to 2000 ms. */
  readonly readYourWritesTimeoutMs?: number;
}

/** The subscription (checkpoint and lease) of a version of a projection. */
export function projectionSubscription(name: string, version: number): string {
  return `projection:${name}:v${version}`;
}

/** The same name in SQL, for a row of `projections` aliased `p`: to join it with its subscription. */
const subscriptionOfRow = `'projection:' || p.name || ':v' || p.version`;

/**
 * Registers projections with an application on `postgresPersistence`: each version is recorded (and its table
 * created) at build, inline ones run in every commit that writes their events, and each read model becomes the
 * token its query handlers depend on. Async ones (and new versions of inline ones) are run by a
 * {@link ProjectionDaemon}.
 */
export function postgresProjections(projections: readonly Projection[], options: ProjectionsOptions = {}) {
  const seen = new Set<string>();
  for (const p of projections) {
    if (seen.has(p.name)) throw new TypeError(`Projection '${p.name}' is registered twice`);
    seen.add(p.name);
  }
  const timeoutMs = options.readYourWritesTimeoutMs ?? 2000;
  return (builder: ApplicationBuilder): void => {
    builder.singleton(RegisteredProjections, { database: PostgresDatabase }, async ({ database }) => {
      for (const p of projections) await register(database, p);
      return projections;
    });
    for (const p of projections) {
      builder.scoped(
        p.model as Token<unknown>,
        // RegisteredProjections: a reader exists only once its projection is recorded (and its table made).
        { database: PostgresDatabase, context: ExecutionContext, registered: RegisteredProjections },
        ({ database, context }): unknown => {
          const ready = () =>
            readYourWrites(database, p.name, context.minPosition, timeoutMs, context.signal);
          if (p.model.kind === 'documents') return documentReader(database, database.schema, p.name, ready);
          const view = tableNames(database.schema, p.name);
          return {
            table: view,
            async query<TResult>(text: string, params?: readonly unknown[]) {
              await ready();
              return (await database.query<TResult>(text, params)).rows;
            },
          };
        },
      );
    }
    const inline = projections.filter((p) => p.mode === 'inline');
    if (inline.length === 0) return;
    const dependencies = { work: PostgresUnitOfWorkToken, upcast: PostgresUpcasting };
    const order = BehaviorOrder.unitOfWork + 2;
    const run = enlistInline(inline);
    builder.use(
      behavior(
        { name: 'inlineProjections', order, scope: 'commands', dependencies },
        (_c, next, _x, deps) => {
          run(deps.work, deps.upcast);
          return next();
        },
      ),
      behavior({ name: 'inlineProjections', order, scope: 'events', dependencies }, (_e, next, _x, deps) => {
        run(deps.work, deps.upcast);
        return next();
      }),
    );
  };
}

/** Enlists the inline projections in a unit of work: they run in its commit when it writes their events. */
function enlistInline(inline: readonly Projection[]) {
  const typesOf = new Map(inline.map((p) => [p, new Set(p.handlers.keys())]));
  return (work: PostgresUnitOfWork, upcast: (event: StoredEvent) => StoredEvent): void => {
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
          await apply(sql, work.database.schema, p, events, upcast);
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
async function markApplied(
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
async function unmarked(
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
async function apply(
  sql: Sql,
  schema: string,
  p: Projection,
  events: readonly StoredEvent[],
  upcast: (event: StoredEvent) => StoredEvent,
): Promise<void> {
  const writer =
    p.model.kind === 'documents'
      ? documentWriter(sql, schema, documentKey(p.name, p.version))
      : tableWriter(sql, tableNames(schema, p.name, p.version), p.model.key);
  for (const stored of events) {
    const handler = p.handlers.get(stored.metadata.type);
    if (handler === undefined) continue;
    const event = upcast(stored);
    await handler.handle(new handler.definition(event.data), writer as never, event);
  }
}

/**
 * Records a version of a projection (building, unless a newer one exists) and creates its table; the view of a
 * table read model points at the version serving. Under a lock, so that processes starting together agree.
 */
async function register(database: Database, p: Projection): Promise<void> {
  const s = database.schema;
  await database.transaction(async (sql) => {
    await sql.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `myelin.projection:${s}:${p.name}`,
    ]);
    // An inline projection with nothing to catch up on (the first version of its name, and no event of its types
    // in the log: a fresh schema) serves at once, so its queries work without a daemon; any other version builds.
    const { rows } = await sql.query<{ status: string; mode: string }>(
      `INSERT INTO ${s}.projections AS p (name, version, mode, status, types, activated_at)
       SELECT $1, $2, $3, status, $4::text::jsonb, CASE WHEN status = 'active' THEN now() END FROM (
         SELECT CASE
           WHEN EXISTS (SELECT FROM ${s}.projections WHERE name = $1 AND version > $2) THEN 'retired'
           WHEN $3 = 'inline' AND NOT EXISTS (SELECT FROM ${s}.projections WHERE name = $1)
             AND NOT EXISTS (SELECT FROM ${s}.events
                             WHERE type IN (SELECT jsonb_array_elements_text($4::text::jsonb))) THEN 'active'
           ELSE 'building' END AS status
       ) chosen
       ON CONFLICT (name, version) DO UPDATE SET types = EXCLUDED.types
       RETURNING status, mode`,
      [p.name, p.version, p.mode, JSON.stringify([...p.handlers.keys()])],
    );
    // Switching modes in place would drop (async → inline) or repeat (inline → async) the events in between.
    if (rows[0]?.mode !== p.mode) {
      throw new Error(
        `Projection '${p.name}' version ${p.version} was registered as ${rows[0]?.mode}; raise its version to make it ${p.mode}`,
      );
    }
    if (p.model.kind !== 'table' || rows[0]?.status === 'retired') return;
    await sql.exec(`CREATE TABLE IF NOT EXISTS ${tableNames(s, p.name, p.version)} (${p.model.columns})`);
    const { rows: serving } = await sql.query<{ version: number }>(
      `SELECT version FROM ${s}.projections WHERE name = $1 AND status <> 'retired'
       ORDER BY status = 'active' DESC, version DESC LIMIT 1`,
      [p.name],
    );
    if (serving[0]?.version === p.version) await pointView(sql, s, p);
  });
}

async function pointView(sql: Sql, schema: string, p: Projection): Promise<void> {
  const view = tableNames(schema, p.name);
  await sql.exec(
    `DROP VIEW IF EXISTS ${view}; CREATE VIEW ${view} AS SELECT * FROM ${tableNames(schema, p.name, p.version)}`,
  );
}

/**
 * Waits (bounded by `timeoutMs`) until the read model serving `name` has applied the log up to `position`. It is
 * woken by the runners' progress (in this process directly, from others through the shared commit listener), not
 * by polling; a position no transaction has reached yet (a client's far-future guess) is answered at once.
 */
async function readYourWrites(
  database: Database,
  name: string,
  position: LogPosition | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  if (position === undefined) return;
  const deadline = Date.now() + timeoutMs;
  const progress = progressSignal(database);
  let stopListening: (() => Promise<void>) | undefined;
  try {
    for (;;) {
      const seen = progress.generation;
      if (await caughtUp(database, name, position)) return;
      if (Date.now() >= deadline || signal.aborted) return; // bounded: then read what is there
      if (stopListening === undefined) {
        if (await inTheFuture(database, position)) return;
        stopListening = await listenForCommits(database);
      }
      await progress.wait(Math.max(0, deadline - Date.now()), signal, seen);
    }
  } finally {
    await stopListening?.();
  }
}

/** Whether no transaction has yet reached `position`: it was not returned by a write, and waiting is in vain. */
async function inTheFuture(database: Database, position: LogPosition): Promise<boolean> {
  const { rows } = await database.query<{ future: boolean }>(
    'SELECT $1::text::xid8 >= pg_snapshot_xmax(pg_current_snapshot()) AS future',
    [positionParts(position).transaction],
  );
  return rows[0]?.future === true;
}

/** Whether the read model serving `name` has applied the log up to `position`. */
async function caughtUp(database: Database, name: string, position: LogPosition): Promise<boolean> {
  const { rows } = await database.query<{
    mode: string;
    status: string;
    tx: string | null;
    seq: string | null;
  }>(
    `SELECT p.mode, p.status, s.transaction_id::text AS tx, s.sequence::text AS seq
     FROM ${database.schema}.projections p
     LEFT JOIN ${database.schema}.subscriptions s ON s.name = ${subscriptionOfRow}
     WHERE p.name = $1 AND p.status <> 'retired' ORDER BY p.status = 'active' DESC, p.version DESC LIMIT 1`,
    [name],
  );
  const row = rows[0];
  if (row === undefined) return true;
  if (row.tx !== null && row.seq !== null && comparePositions(logPosition(row.tx, row.seq), position) >= 0)
    return true;
  // An active inline projection was written in the very transaction of the write, which marked it.
  return row.mode === 'inline' && row.status === 'active' && (await markedBy(database, name, position));
}

/** Whether the transaction of a log position applied the active version of an inline projection itself. */
async function markedBy(database: Database, name: string, position: LogPosition): Promise<boolean> {
  const { rows } = await database.query(
    `SELECT FROM ${database.schema}.inline_marks m JOIN ${database.schema}.projections p
       ON p.name = m.projection AND p.version = m.version AND p.status = 'active'
     WHERE m.projection = $1 AND m.transaction_id = $2::text::xid8`,
    [name, positionParts(position).transaction],
  );
  return rows.length > 0;
}

/** How far behind a projection is. */
export interface ProjectionLag {
  readonly name: string;
  readonly version: number;
  readonly mode: 'inline' | 'async';
  readonly status: 'building' | 'active';
  /** Where it has read to, and the log's last position. */
  readonly checkpoint: LogPosition;
  readonly head: LogPosition;
  /** Events of its types after its checkpoint. */
  readonly pendingEvents: number;
  /** How long ago the oldest of those occurred, in ms (0 when none). */
  readonly oldestPendingAgeMs: number;
}

/** The lag of every projection version not retired (for health checks and the dashboard). */
export async function projectionLag(database: Database): Promise<readonly ProjectionLag[]> {
  const s = database.schema;
  const { rows } = await database.query<{
    name: string;
    version: number;
    mode: 'inline' | 'async';
    status: 'building' | 'active';
    tx: string;
    seq: string;
    pending: number;
    age_ms: number | null;
    head: string | null;
  }>(
    `SELECT p.name, p.version, p.mode, p.status,
       coalesce(s.transaction_id, '0')::text AS tx, coalesce(s.sequence, 0)::text AS seq,
       pending.n AS pending, pending.age_ms,
       (SELECT transaction_id::text || '.' || sequence::text FROM ${s}.events
        ORDER BY transaction_id DESC, sequence DESC LIMIT 1) AS head
     FROM ${s}.projections p
     LEFT JOIN ${s}.subscriptions s ON s.name = ${subscriptionOfRow}
     CROSS JOIN LATERAL (
       SELECT count(*)::int AS n, (extract(epoch FROM now() - min(e.occurred_at)) * 1000)::float8 AS age_ms
       FROM ${s}.events e
       WHERE (e.transaction_id, e.sequence) > (coalesce(s.transaction_id, '0'), coalesce(s.sequence, 0))
         AND e.type IN (SELECT jsonb_array_elements_text(p.types))
     ) pending
     WHERE p.status <> 'retired' ORDER BY p.name, p.version`,
  );
  return rows.map((row) => ({
    name: row.name,
    version: row.version,
    mode: row.mode,
    status: row.status,
    checkpoint: logPosition(row.tx, row.seq),
    head: (row.head ?? startOfLog) as LogPosition,
    pendingEvents: row.pending,
    oldestPendingAgeMs: Math.max(0, Math.round(row.age_ms ?? 0)),
  }));
}

/**
 * Runs an application's projections: each version is a subscription of the log, leased to one process at a
 * time (a standby takes over when the active process dies). A version being built catches up from the start of
 * the log beside the one serving; when it has caught up, it takes over in one transaction and the old read model
 * is dropped. Async projections apply each batch in one transaction with their checkpoint: exactly-once effects.
 */
export class ProjectionDaemon {
  readonly #runners: SubscriptionRunner[];

  constructor(app: Application, database: Database, options: RunnerOptions = {}) {
    const projections = app.container.root.resolve(RegisteredProjections);
    const upcast = app.container.root.resolve(PostgresUpcasting);
    this.#runners = projections.map(
      (p) => new SubscriptionRunner(database, new ProjectionConsumer(database, p, upcast), options),
    );
  }

  start(): this {
    for (const runner of this.#runners) runner.start();
    return this;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#runners.map((runner) => runner.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

const asynchronousCommit: TransactionOptions = { synchronousCommit: false };

class ProjectionConsumer implements Consumer {
  readonly name: string;
  readonly types: readonly string[];
  readonly #database: Database;
  readonly #projection: Projection;
  readonly #upcast: (event: StoredEvent) => StoredEvent;

  constructor(database: Database, p: Projection, upcast: (event: StoredEvent) => StoredEvent) {
    this.name = projectionSubscription(p.name, p.version);
    this.types = [...p.handlers.keys()];
    this.#database = database;
    this.#projection = p;
    this.#upcast = upcast;
  }

  consume(
    events: readonly StoredEvent[],
    end: LogPosition,
    checkpoint: (sql: Sql) => Promise<void>,
    _lease: unknown,
    caughtUp: boolean,
  ): Promise<'stop' | undefined> {
    return this.#batch(events, end, checkpoint, caughtUp);
  }

  idle(end: LogPosition, checkpoint: (sql: Sql) => Promise<void>): Promise<'stop' | undefined> {
    return this.#batch([], end, checkpoint, true);
  }

  /** One batch: its effects, the checkpoint and (once caught up) the switch, in one transaction. */
  async #batch(
    events: readonly StoredEvent[],
    end: LogPosition,
    checkpoint: (sql: Sql) => Promise<void>,
    caughtUp: boolean,
  ): Promise<'stop' | undefined> {
    const p = this.#projection;
    const s = this.#database.schema;
    // Without waiting for the disk at commit: a batch lost in a crash of the server is lost whole, its checkpoint
    // with its effects, and applied again from the log, which is durable. (No-op catch-up in bench/: about 255k
    // events/s waiting for the disk, 300k without.)
    return this.#database.transaction(async (sql) => {
      // FOR UPDATE: inline commits (FOR SHARE) and a switch of another version wait for this batch.
      const { rows } = await sql.query<{ status: string }>(
        `SELECT status FROM ${s}.projections WHERE name = $1 AND version = $2 FOR UPDATE`,
        [p.name, p.version],
        prepared,
      );
      const status = rows[0]?.status;
      if (status === undefined || status === 'retired') return 'stop';
      if (p.mode === 'inline' && status === 'active') {
        // The commits that applied it left a mark; the others' events (a direct append, a process running other
        // code) are applied here. Marks behind this batch will not be read again.
        await apply(sql, s, p, await unmarked(sql, s, p, events), this.#upcast);
        await sql.query(
          `DELETE FROM ${s}.inline_marks WHERE projection = $1 AND version = $2
             AND transaction_id < $3::text::xid8`,
          [p.name, p.version, positionParts(end).transaction],
        );
      } else {
        await apply(sql, s, p, events, this.#upcast);
      }
      if (events.length > 0) await checkpoint(sql);
      if (status === 'building' && caughtUp) {
        await checkpoint(sql); // fails if this runner lost its lease: a stale runner must not switch
        return this.#switch(sql, end);
      }
      return undefined;
    }, asynchronousCommit);
  }

  /** Makes this version the one serving, retires the others and drops their read models. */
  async #switch(sql: Sql, end: LogPosition): Promise<'stop' | undefined> {
    const p = this.#projection;
    const s = this.#database.schema;
    const { rows: newer } = await sql.query(
      `SELECT FROM ${s}.projections WHERE name = $1 AND version > $2 AND status <> 'retired'`,
      [p.name, p.version],
    );
    if (newer.length > 0) return undefined; // a newer version is coming: it will take over, not this one
    if (p.mode === 'inline') {
      // Commits that saw this version building have committed (the row lock waited for them); the ones after it
      // will apply it inline. So apply everything committed now, horizon or not, and none of theirs.
      const { transaction, sequence } = positionParts(end);
      const { rows } = await sql.query<EventRow>(
        `SELECT ${eventColumns()} FROM ${s}.events
         WHERE (transaction_id, sequence) > ($1::text::xid8, $2::bigint)
           AND type IN (SELECT jsonb_array_elements_text($3::text::jsonb))
         ORDER BY transaction_id, sequence`,
        [transaction, sequence, JSON.stringify(this.types)],
      );
      const caughtUp = rows.map(toStoredEvent);
      await apply(sql, s, p, caughtUp, this.#upcast);
      // Read again by the runner once active: marked, so that it does not apply them twice.
      await markApplied(sql, s, p, [
        ...new Set(caughtUp.map((event) => positionParts(event.position).transaction)),
      ]);
    }
    const { rows: retired } = await sql.query<{ version: number }>(
      `UPDATE ${s}.projections SET status = 'retired', retired_at = now()
       WHERE name = $1 AND version <> $2 AND status <> 'retired' RETURNING version`,
      [p.name, p.version],
    );
    await sql.query(
      `UPDATE ${s}.projections SET status = 'active', activated_at = now() WHERE name = $1 AND version = $2`,
      [p.name, p.version],
    );
    if (p.model.kind === 'table') await pointView(sql, s, p);
    for (const { version } of retired) {
      if (p.model.kind === 'documents') {
        await sql.query(`DELETE FROM ${s}.read_documents WHERE model = $1`, [documentKey(p.name, version)]);
      } else {
        await sql.exec(`DROP TABLE IF EXISTS ${tableNames(s, p.name, version)}`);
      }
    }
    return undefined;
  }
}
