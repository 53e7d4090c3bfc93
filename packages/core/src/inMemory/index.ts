/**
 * The in-memory adapters: the whole of `@myelin/core` with no infrastructure, for tests, examples and prototypes.
 * `inMemoryPersistence()` registers the database, event store, idempotency keys and unit of work; add repositories
 * with `inMemoryStateStoredRepository` and `inMemoryEventSourcedRepository`, read models with `inMemoryProjections`
 * (and an `InMemoryProjectionDaemon` for async ones). Personal data is sealed in the log and forgotten as on
 * PostgreSQL (see `PersonalData`), with a random master key per database unless one is given.
 * @module @myelin/core/memory
 */
export {
  type CommitOptions,
  type DocumentWrite,
  type Enlisted,
  InMemoryDatabase,
  type StreamAppend,
} from './inMemoryDatabase.ts';
export { InMemoryDataKeys } from './inMemoryDataKeys.ts';
export { InMemoryEventStore } from './inMemoryEventStore.ts';
export { InMemoryIdempotencyStore } from './inMemoryIdempotencyStore.ts';
export { InMemoryMessageBus } from './inMemoryMessageBus.ts';
export { InMemoryMessageScheduler } from './inMemoryMessageScheduler.ts';
export { type InMemoryPersistenceOptions, inMemoryPersistence } from './inMemoryPersistence.ts';
export type { InMemoryPersonalDataOptions, InMemoryProtection } from './inMemoryPersonalData.ts';
export {
  InMemoryProjectionDaemon,
  type InMemoryProjectionDaemonOptions,
} from './inMemoryProjectionDaemon.ts';
export { type InMemoryProjectionsOptions, inMemoryProjections } from './inMemoryProjections.ts';
export {
  type EventSourcedOptions,
  inMemoryEventSourcedRepository,
  inMemoryStateStoredRepository,
  type StateStoredOptions,
} from './inMemoryRepositories.ts';
export { InMemoryDatabaseToken, InMemoryUnitOfWork } from './inMemoryUnitOfWork.ts';
