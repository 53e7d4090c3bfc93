import {
  type AggregateRoot,
  type AggregateType,
  ConcurrencyError,
  type FindQuery,
  type Page,
  type QueryableRepository,
  type Repository,
  type Token,
} from '@myelin/core';
import type { Provider } from '@myelin/core/container';
import { prepared, type Sql } from '../database/database.ts';
import { appendToStream } from '../eventStore/postgresEventStore.ts';
import {
  type Change,
  type PostgresUnitOfWork,
  PostgresUnitOfWorkToken,
  trackingMethods,
} from '../unitOfWork/postgresUnitOfWork.ts';
import { findJson } from './jsonQuery.ts';

export interface PostgresStateStoredOptions {
  /** The collection the documents live in; defaults to the aggregate class's name. */
  readonly collection?: string;
}

interface DocumentRow {
  readonly id: string;
  readonly version: number;
  readonly state: unknown;
}

/**
 * A repository keeping each aggregate as a JSONB document with its version, and `find` over the state's top-level
 * fields. The aggregate's events go to the log in the same transaction, in the stream `${collection}-${id}`.
 * Add an expression index for fields you filter or sort on often:
 * `CREATE INDEX ON myelin.documents ((state->'status')) WHERE collection = 'Order'`.
 * @example app.register(postgresStateStoredRepository(Customers, Customer));
 */
export function postgresStateStoredRepository<TAggregate extends AggregateRoot<any, any>>(
  repositoryToken: Token<QueryableRepository<TAggregate>> | Token<Repository<TAggregate>>,
  type: AggregateType<TAggregate>,
  options: PostgresStateStoredOptions = {},
): Provider<QueryableRepository<TAggregate>, { work: Token<PostgresUnitOfWork> }> {
  const collection = options.collection ?? type.name;
  return {
    token: repositoryToken as Token<QueryableRepository<TAggregate>>,
    lifetime: 'scoped',
    dependencies: { work: PostgresUnitOfWorkToken },
    factory: ({ work }) => {
      const { database } = work;
      const s = database.schema;
      const key = (id: string) => `state:${collection}:${id}`;
      const write = async (sql: Sql, { aggregate, operation, events }: Change) => {
        const id = aggregate.id;
        const state = JSON.stringify(aggregate.state);
        const { rows } =
          operation === 'add'
            ? await sql.query(
                `INSERT INTO ${s}.documents (collection, id, version, state) VALUES ($1, $2, $3, $4::jsonb)
                 ON CONFLICT (collection, id) DO NOTHING RETURNING version`,
                [collection, id, aggregate.nextVersion, state],
                prepared,
              )
            : operation === 'remove'
              ? await sql.query(
                  `DELETE FROM ${s}.documents WHERE collection = $1 AND id = $2 AND version = $3 RETURNING version`,
                  [collection, id, aggregate.version],
                  prepared,
                )
              : await sql.query(
                  `UPDATE ${s}.documents SET version = $3, state = $4::jsonb, updated_at = now()
                   WHERE collection = $1 AND id = $2 AND version = $5 RETURNING version`,
                  [collection, id, aggregate.nextVersion, state, aggregate.version],
                  prepared,
                );
        if (rows.length === 0) {
          const current = await sql.query<{ version: number }>(
            `SELECT version FROM ${s}.documents WHERE collection = $1 AND id = $2`,
            [collection, id],
          );
          throw new ConcurrencyError(
            `${collection}/${id}`,
            operation === 'add' ? 'no_stream' : aggregate.version,
            current.rows[0]?.version,
          );
        }
        if (events.length === 0) return [];
        return (await appendToStream(sql, s, `${collection}-${id}`, events, 'any')).events;
      };
      const tracking = (aggregate: TAggregate, operation: Change['operation']) => ({
        aggregate,
        operation,
        // A loaded aggregate that raised events changed; `update` only confirms it (as in memory).
        changed: (change: Change) =>
          change.operation === 'add' || change.operation === 'remove' || change.events.length > 0,
        single: () => false,
        write,
      });
      const load = (row: DocumentRow): TAggregate => {
        const tracked = work.tracked(key(row.id));
        if (tracked !== undefined) return tracked as TAggregate;
        const aggregate = new type(row.id).restore(row.state, row.version);
        work.track(key(row.id), tracking(aggregate, 'loaded'));
        return aggregate;
      };
      return {
        async get(id) {
          const tracked = work.tracked(key(id));
          if (tracked !== undefined) return tracked as TAggregate;
          const { rows } = await database.query<DocumentRow>(
            `SELECT id, version, state FROM ${s}.documents WHERE collection = $1 AND id = $2`,
            [collection, id],
            prepared,
          );
          return rows[0] === undefined ? undefined : load(rows[0]);
        },
        async exists(id) {
          const { rows } = await database.query(
            `SELECT FROM ${s}.documents WHERE collection = $1 AND id = $2`,
            [collection, id],
            prepared,
          );
          return rows.length > 0;
        },
        ...trackingMethods(work, key, tracking),
        async find(query: FindQuery<TAggregate['state']> = {}): Promise<Page<TAggregate>> {
          const { rows, ...page } = await findJson<DocumentRow>(
            database,
            {
              table: `${s}.documents`,
              column: 'state',
              select: 'id, version, state',
              scope: 'collection = $1',
              scopeParams: [collection],
              key: 'id',
            },
            query,
          );
          return { items: rows.map(load), ...page };
        },
      };
    },
  };
}
