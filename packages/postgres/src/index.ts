// @myelin/postgres: Myelin's write side on PostgreSQL (through pg) and on embedded PGlite, with one SQL for both.
export type {
  Database,
  QueryOptions,
  QueryResult,
  Sql,
} from './database/database.ts';
export { type PgliteDatabaseOptions, pgliteDatabase } from './database/pgliteDatabase.ts';
export { type PostgresDatabaseOptions, postgresDatabase } from './database/postgresDatabase.ts';
export { PostgresEventStore, type PostgresEventStoreOptions } from './eventStore/postgresEventStore.ts';
export { type MigrationReport, migrate } from './migrations/migrate.ts';
export { type Migration, migrations } from './migrations/migrations.ts';
export {
  PostgresDatabase,
  type PostgresPersistenceOptions,
  postgresPersistence,
} from './postgresPersistence.ts';
export {
  type EventSourcedOptions,
  postgresEventSourcedRepository,
} from './repositories/eventSourcedRepository.ts';
export {
  postgresStateStoredRepository,
  type StateStoredOptions,
} from './repositories/stateStoredRepository.ts';
export {
  type Change,
  type Enlisted,
  PostgresUnitOfWork,
  PostgresUnitOfWorkToken,
} from './unitOfWork/postgresUnitOfWork.ts';
