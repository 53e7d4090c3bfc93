// Registering projections with an application: each version recorded (and its table made) at build, inline ones
// enlisted in every commit, each read model a token its query handlers depend on.
import {
  type ApplicationBuilder,
  BehaviorOrder,
  behavior,
  ExecutionContext,
  PersonalData,
  type Projection,
  RegisteredProjections,
  type Token,
} from '@myelin/core';
import type { Provider } from '@myelin/core/container';
import type { Database, Sql } from '../database/database.ts';
import { PostgresEventReading, PostgresProtection, personalDataService } from '../personalData/protection.ts';
import { PostgresDatabase } from '../postgresPersistence.ts';
import { PostgresUnitOfWorkToken } from '../unitOfWork/postgresUnitOfWork.ts';
import { enlistInline } from './inlineProjections.ts';
import { ProjectionDaemon } from './projectionDaemon.ts';
import { documentReader, tableNames, tableReader } from './readModels.ts';
import { readYourWrites } from './readYourWrites.ts';

export interface ProjectionsOptions {
  /** How long a query asking to read its writes waits for an async read model; defaults to 2000 ms. */
  readonly readYourWritesTimeoutMs?: number;
}

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
    // Forgetting a subject runs these projections' erasure hooks too.
    const erasing = {
      work: PostgresUnitOfWorkToken,
      protection: PostgresProtection,
      registered: RegisteredProjections,
    };
    builder.replace<PersonalData>({
      token: PersonalData,
      lifetime: 'scoped',
      dependencies: erasing,
      factory: ({ work, protection, registered }) => personalDataService(work, protection, registered),
    } satisfies Provider<PersonalData, typeof erasing>);
    for (const p of projections) {
      builder.scoped(
        p.model as Token<unknown>,
        // RegisteredProjections: a reader exists only once its projection is recorded (and its table made).
        { database: PostgresDatabase, context: ExecutionContext, registered: RegisteredProjections },
        ({ database, context }): unknown => {
          const ready = () =>
            readYourWrites(database, p.name, context.minPosition, timeoutMs, context.signal);
          if (p.model.kind === 'documents') return documentReader(database, database.schema, p.name, ready);
          return tableReader(database, tableNames(database.schema, p.name), p.model.key, ready);
        },
      );
    }
    const inline = projections.filter((p) => p.mode === 'inline');
    if (inline.length === 0) return;
    const dependencies = { work: PostgresUnitOfWorkToken, read: PostgresEventReading };
    const order = BehaviorOrder.unitOfWork + 2;
    const run = enlistInline(inline);
    builder.use(
      behavior(
        { name: 'inlineProjections', order, scope: 'commands', dependencies },
        (_c, next, _x, deps) => {
          run(deps.work, deps.read);
          return next();
        },
      ),
      behavior({ name: 'inlineProjections', order, scope: 'events', dependencies }, (_e, next, _x, deps) => {
        run(deps.work, deps.read);
        return next();
      }),
    );
  };
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
    const { rows } = await sql.query<{ status: string; mode: string; partitions: number }>(
      `INSERT INTO ${s}.projections AS p (name, version, mode, status, types, partitions, activated_at)
       SELECT $1, $2, $3, status, $4::text::jsonb, $5, CASE WHEN status = 'active' THEN now() END FROM (
         SELECT CASE
           WHEN EXISTS (SELECT FROM ${s}.projections WHERE name = $1 AND version > $2) THEN 'retired'
           WHEN $3 = 'inline' AND NOT EXISTS (SELECT FROM ${s}.projections WHERE name = $1)
             AND NOT EXISTS (SELECT FROM ${s}.events
                             WHERE type IN (SELECT jsonb_array_elements_text($4::text::jsonb))) THEN 'active'
           ELSE 'building' END AS status
       ) chosen
       ON CONFLICT (name, version) DO UPDATE SET types = EXCLUDED.types
       RETURNING status, mode, partitions`,
      [p.name, p.version, p.mode, JSON.stringify([...p.handlers.keys()]), p.partitions],
    );
    // Switching modes in place would drop (async → inline) or repeat (inline → async) the events in between.
    if (rows[0]?.mode !== p.mode) {
      throw new Error(
        `Projection '${p.name}' version ${p.version} was registered as ${rows[0]?.mode}; raise its version to make it ${p.mode}`,
      );
    }
    // Splitting the log another way moves streams between partitions, whose checkpoints would then skip or repeat.
    if (rows[0]?.partitions !== p.partitions) {
      throw new Error(
        `Projection '${p.name}' version ${p.version} was registered with ${rows[0]?.partitions} partition(s); raise its version to run it with ${p.partitions}`,
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

export async function pointView(sql: Sql, schema: string, p: Projection): Promise<void> {
  const view = tableNames(schema, p.name);
  await sql.exec(
    `DROP VIEW IF EXISTS ${view}; CREATE VIEW ${view} AS SELECT * FROM ${tableNames(schema, p.name, p.version)}`,
  );
}
