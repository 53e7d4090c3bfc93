import type { ApplicationBuilder } from '../application/application.ts';
import { eventUnitOfWork, type UnitOfWorkOptions, unitOfWork } from '../behaviors/unitOfWork.ts';
import { ExecutionContext } from '../mediation/executionContext.ts';
import { EventStore } from '../persistence/eventStore.ts';
import { IdempotencyStore } from '../persistence/idempotencyStore.ts';
import { UnitOfWork } from '../persistence/unitOfWork.ts';
import { processInspection } from '../processes/processInspection.ts';
import { ProcessInstance, ProcessInstances, processCollection } from '../processes/processInstance.ts';
import { Clock, systemClock } from '../scheduling/clock.ts';
import { Schedule, scheduleOf } from '../scheduling/schedule.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryEventStore } from './inMemoryEventStore.ts';
import { InMemoryIdempotencyStore } from './inMemoryIdempotencyStore.ts';
import { inMemoryEventSourcedRepository, inMemoryStateStoredRepository } from './inMemoryRepositories.ts';
import { InMemoryDatabaseToken, InMemoryUnitOfWork, InMemoryUnitOfWorkToken } from './inMemoryUnitOfWork.ts';

export interface InMemoryPersistenceOptions extends UnitOfWorkOptions {
  /** The application's clock (scheduled messages come due by it); the system's when absent. */
  readonly clock?: Clock;
}

/**
 * Registers the in-memory adapters: the database, the event store, the idempotency keys, the unit of work and
 * its behavior, the clock and the `Schedule` of scheduled messages (an `InMemoryMessageScheduler` delivers them).
 * Add repositories with {@link inMemoryStateStoredRepository} and {@link inMemoryEventSourcedRepository}.
 * @example const app = await createApplication().include(inMemoryPersistence()).register(...).build();
 */
export function inMemoryPersistence(
  database: InMemoryDatabase = new InMemoryDatabase(),
  options: InMemoryPersistenceOptions = {},
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
      .singleton(Clock, () => options.clock ?? systemClock)
      .scoped(Schedule, { work: InMemoryUnitOfWorkToken, clock: Clock }, ({ work, clock }) =>
        scheduleOf(work.context, clock, (change) => work.schedule(change)),
      )
      .use(unitOfWork(options))
      .use(eventUnitOfWork())
      .include(
        processInspection(
          inMemoryStateStoredRepository(ProcessInstances, ProcessInstance, { collection: processCollection }),
        ),
      );
  };
}
