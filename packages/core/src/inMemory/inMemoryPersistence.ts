import type { ApplicationBuilder } from '../application/application.ts';
import { eventUnitOfWork, type UnitOfWorkOptions, unitOfWork } from '../behaviors/unitOfWork.ts';
import { ExecutionContext } from '../mediation/executionContext.ts';
import { EventStore } from '../persistence/eventStore.ts';
import { IdempotencyStore } from '../persistence/idempotencyStore.ts';
import { UnitOfWork } from '../persistence/unitOfWork.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryEventStore } from './inMemoryEventStore.ts';
import { InMemoryIdempotencyStore } from './inMemoryIdempotencyStore.ts';
import { inMemoryEventSourcedRepository, inMemoryStateStoredRepository } from './inMemoryRepositories.ts';
import { InMemoryDatabaseToken, InMemoryUnitOfWork, InMemoryUnitOfWorkToken } from './inMemoryUnitOfWork.ts';

/**
 * Registers the in-memory adapters: the database, the event store, the idempotency keys, the unit of work and
 * its behavior.
 * Add repositories with {@link inMemoryStateStoredRepository} and {@link inMemoryEventSourcedRepository}.
 * @example const app = await createApplication().include(inMemoryPersistence()).register(...).build();
 */
export function inMemoryPersistence(
  database: InMemoryDatabase = new InMemoryDatabase(),
  options: UnitOfWorkOptions = {},
) {
  return (builder: ApplicationBuilder): void => {
    builder
      .singleton(InMemoryDatabaseToken, () => database)
      .singleton(
        EventStore,
        { database: InMemoryDatabaseToken },
        ({ database }) => new InMemoryEventStore(database),
      )
      .singleton(IdempotencyStore, () => new InMemoryIdempotencyStore())
      .scoped(
        InMemoryUnitOfWorkToken,
        { database: InMemoryDatabaseToken, context: ExecutionContext },
        ({ database, context }) => new InMemoryUnitOfWork(database, context),
      )
      .scoped(UnitOfWork, { work: InMemoryUnitOfWorkToken }, ({ work }) => work)
      .use(unitOfWork(options))
      .use(eventUnitOfWork());
  };
}
