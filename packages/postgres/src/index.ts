/**
 * Myelin's write side on PostgreSQL and on embedded PGlite, with one SQL for both: the event store, repositories,
 * the unit of work and outbox, the relay, projections and live views. The drivers have entries of their own
 * (`@myelin/postgres/pg`, `@myelin/postgres/pglite`), so a user installs only theirs.
 * @module @myelin/postgres
 */
export type {
  Connection,
  Database,
  PoolUse,
  QueryOptions,
  QueryResult,
  Sql,
  TransactionOptions,
} from './database/database.ts';
export { DirectoryLockedError } from './database/directoryLock.ts';
export { PostgresEventStore, type PostgresEventStoreOptions } from './eventStore/postgresEventStore.ts';
export {
  PostgresIdempotencyStore,
  type PostgresIdempotencyStoreOptions,
} from './idempotency/postgresIdempotencyStore.ts';
export { type MigrateOptions, type MigrationReport, migrate } from './migrations/migrate.ts';
export { type Migration, migrations } from './migrations/migrations.ts';
export { type PostgresMetricsOptions, postgresMetrics } from './operations/postgresMetrics.ts';
export { PostgresOperations } from './operations/postgresOperations.ts';
export { postgresReadiness, type ReadinessOptions } from './operations/readiness.ts';
export type { PersonalDataOptions } from './personalData/protection.ts';
export { MissingMasterKeyError } from './personalData/protection.ts';
export { type RewrapOptions, rewrapDataKeys } from './personalData/rewrap.ts';
export {
  PostgresDatabase,
  type PostgresPersistenceOptions,
  postgresPersistence,
} from './postgresPersistence.ts';
export { type ProjectionsOptions, postgresProjections } from './projections/postgresProjections.ts';
export { ProjectionDaemon } from './projections/projectionDaemon.ts';
export { type ProjectionLag, projectionLag } from './projections/projectionLag.ts';
export { projectionSubscription } from './projections/projectionSubscription.ts';
export { sqlOf, type TableSql } from './projections/readModels.ts';
export { type UntilServingOptions, untilServing } from './projections/untilServing.ts';
export {
  EventRelay,
  type EventRelayOptions,
  type ParkedEvent,
  relaySubscription,
} from './relay/eventRelay.ts';
export {
  IntegrationPublisher,
  type IntegrationPublisherOptions,
  integrationSubscription,
} from './relay/integrationPublisher.ts';
export {
  type PostgresEventSourcedOptions,
  postgresEventSourcedRepository,
} from './repositories/eventSourcedRepository.ts';
export {
  type PostgresStateStoredOptions,
  postgresStateStoredRepository,
} from './repositories/stateStoredRepository.ts';
export {
  PostgresMessageScheduler,
  type PostgresMessageSchedulerOptions,
  type SchedulerState,
} from './scheduling/postgresMessageScheduler.ts';
export { commitFeed } from './subscriptions/commitFeed.ts';
export { LeaseLostError } from './subscriptions/leases.ts';
export { type LogBatch, type ReadLogOptions, readLog } from './subscriptions/logReader.ts';
export { type LogSignal, progressSignal } from './subscriptions/logSignal.ts';
export { type TailLogOptions, tailLog } from './subscriptions/logTail.ts';
export {
  type Consumer,
  type RunnerOptions,
  type RunnerState,
  SubscriptionRunner,
} from './subscriptions/subscriptionRunner.ts';
export {
  type Change,
  type Enlisted,
  PostgresUnitOfWork,
  PostgresUnitOfWorkToken,
} from './unitOfWork/postgresUnitOfWork.ts';
