import type { ApplicationBuilder } from '../application/application.ts';
import { eventUnitOfWork, type UnitOfWorkOptions, unitOfWork } from '../behaviors/unitOfWork.ts';
import { ExecutionContext } from '../mediation/executionContext.ts';
import { EventStore } from '../persistence/eventStore.ts';
import { IdempotencyStore } from '../persistence/idempotencyStore.ts';
import { UnitOfWork } from '../persistence/unitOfWork.ts';
import { PersonalData, PersonalDataReader } from '../personalData/personalData.ts';
import { processInspection } from '../processes/processInspection.ts';
import { ProcessInstance, ProcessInstances, processCollection } from '../processes/processInstance.ts';
import { Clock, systemClock } from '../scheduling/clock.ts';
import { Schedule, scheduleOf } from '../scheduling/schedule.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryEventStore } from './inMemoryEventStore.ts';
import { InMemoryIdempotencyStore } from './inMemoryIdempotencyStore.ts';
import {
  type InMemoryPersonalDataOptions,
  InMemoryProtection,
  InMemoryProtectionToken,
  inMemoryPersonalData,
} from './inMemoryPersonalData.ts';
import { inMemoryEventSourcedRepository, inMemoryStateStoredRepository } from './inMemoryRepositories.ts';
import { InMemoryDatabaseToken, InMemoryUnitOfWork, InMemoryUnitOfWorkToken } from './inMemoryUnitOfWork.ts';

export interface InMemoryPersistenceOptions extends UnitOfWorkOptions {
  /** The application's clock (scheduled messages come due by it); the system's when absent. */
  readonly clock?: Clock;
  /**
   * The master key that protects personal data (see `PersonalData`): events' personal fields are sealed in the log
   * and opened on read, as on PostgreSQL. Optional here: memory is never persisted, so without it the database's
   * own master key is used, random and made once with the database (`localMasterKey(newMasterKey())`), shared by
   * the applications on it that give none. In-memory applications protect and forget with no configuration.
   */
  readonly personalData?: InMemoryPersonalDataOptions;
}

/**
 * Registers the in-memory adapters: the database, the event store, the idempotency keys, the unit of work and
 * its behavior, the clock and the `Schedule` of scheduled messages (an `InMemoryMessageScheduler` delivers them),
 * and the protection of personal data (`PersonalData`, `PersonalDataReader`). Add repositories with {@link inMemoryStateStoredRepository} and {@link inMemoryEventSourcedRepository}.
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
        InMemoryProtectionToken,
        { database: InMemoryDatabaseToken },
        ({ database }) => new InMemoryProtection(database, options.personalData),
      )
      .singleton(PersonalDataReader, { protection: InMemoryProtectionToken }, ({ protection }) => ({
        reveal: (events) => protection.reveal(events),
      }))
      .singleton(
        EventStore,
        { database: InMemoryDatabaseToken, protection: InMemoryProtectionToken },
        ({ database, protection }) => new InMemoryEventStore(database, { protection }),
      )
      .singleton(IdempotencyStore, () => new InMemoryIdempotencyStore())
      .scoped(
        InMemoryUnitOfWorkToken,
        { database: InMemoryDatabaseToken, context: ExecutionContext, protection: InMemoryProtectionToken },
        ({ database, context, protection }) => new InMemoryUnitOfWork(database, context, protection),
      )
      .scoped(UnitOfWork, { work: InMemoryUnitOfWorkToken }, ({ work }) => work)
      .scoped(
        PersonalData,
        { work: InMemoryUnitOfWorkToken, protection: InMemoryProtectionToken, idempotency: IdempotencyStore },
        ({ work, protection, idempotency }) =>
          inMemoryPersonalData(
            work,
            protection,
            idempotency instanceof InMemoryIdempotencyStore ? idempotency : undefined,
          ),
      )
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
