import {
  type ApplicationBuilder,
  Clock,
  EventStore,
  ExecutionContext,
  eventUnitOfWork,
  IdempotencyStore,
  Operations,
  PersonalData,
  PersonalDataReader,
  ProcessInstance,
  ProcessInstances,
  processCollection,
  processInspection,
  Schedule,
  scheduleOf,
  systemClock,
  token,
  UnitOfWork,
  type UnitOfWorkOptions,
  type Upcaster,
  unitOfWork,
  upcasting,
} from '@myelin/core';
import type { Database } from './database/database.ts';
import { PostgresEventStore, PostgresUpcasting } from './eventStore/postgresEventStore.ts';
import { PostgresIdempotencyStore } from './idempotency/postgresIdempotencyStore.ts';
import { type MigrateOptions, migrate } from './migrations/migrate.ts';
import { PostgresOperations } from './operations/postgresOperations.ts';
import {
  eventReading,
  type PersonalDataOptions,
  PostgresEventReading,
  PostgresProtection,
  Protection,
  personalDataService,
} from './personalData/protection.ts';
import { inbox } from './relay/inbox.ts';
import { postgresStateStoredRepository } from './repositories/stateStoredRepository.ts';
import { PostgresUnitOfWork, PostgresUnitOfWorkToken } from './unitOfWork/postgresUnitOfWork.ts';

export interface PostgresPersistenceOptions extends UnitOfWorkOptions {
  /**
   * Apply the schema's migrations when the application is built; defaults to true. Give your own
   * (`{ migrations }`) to apply them too, in a sequence of their own.
   */
  readonly migrate?: boolean | MigrateOptions;
  /** Turn old versions of events into the current shape when read. */
  readonly upcasters?: readonly Upcaster[];
  /** Close the database when the application is disposed; defaults to false (whoever opened it closes it). */
  readonly closeOnDispose?: boolean;
  /** The application's clock (scheduled messages come due by it); the system's when absent. */
  readonly clock?: Clock;
  /**
   * The master key that protects personal data (see `PersonalData`). Without it, appending an event that declares
   * personal data fails: nothing personal is written in clear.
   */
  readonly personalData?: PersonalDataOptions;
  /**
   * Whether this process listens for other processes' erasures, dropping its cached query results at each (on a
   * session of its own; PostgreSQL only). By default it does when it has the master key or when some event type it
   * imported declares personal data. A process with neither whose cached queries answer personal data from read
   * models (an API process that imports its read models and queries alone) sets it to true.
   */
  readonly hearErasures?: boolean;
}

/** The application's database, migrated (when asked) before anything uses it. */
export const PostgresDatabase = token<Database>('PostgresDatabase');

/**
 * Registers persistence on PostgreSQL or PGlite: the database (migrated at build), the event store, the
 * idempotency keys, the unit of work and its behavior, the clock and the `Schedule` of scheduled messages (a
 * `PostgresMessageScheduler` delivers them), and the operator's view (`Operations`, which the console of
 * `@myelin/http` serves). Add repositories with `postgresStateStoredRepository`
 * and `postgresEventSourcedRepository`.
 * @example
 * const db = await pgliteDatabase({ dataDir: './data' });
 * const app = await createApplication().include(postgresPersistence(db)).register(...).build();
 */
export function postgresPersistence(database: Database, options: PostgresPersistenceOptions = {}) {
  return (builder: ApplicationBuilder): void => {
    builder
      .singleton(
        PostgresDatabase,
        async () => {
          if (options.migrate !== false) {
            await migrate(database, typeof options.migrate === 'object' ? options.migrate : {});
          }
          return database;
        },
        // The database is disposable; without closeOnDispose the application must leave it open for its owner.
        { dispose: (db) => (options.closeOnDispose === true ? db.close() : undefined) },
      )
      .singleton(PostgresUpcasting, () => upcasting(options.upcasters ?? []))
      .singleton(
        PostgresProtection,
        { database: PostgresDatabase },
        async ({ database }) => {
          const protection = new Protection(database, options.personalData);
          await protection.checkMasterKeys();
          await protection.hearErasures(options.hearErasures);
          return protection;
        },
        { dispose: (protection) => protection.close() },
      )
      .singleton(PersonalDataReader, { protection: PostgresProtection }, ({ protection }) => ({
        reveal: (events) => protection.reveal(events),
      }))
      .singleton(
        PostgresEventReading,
        { protection: PostgresProtection, upcast: PostgresUpcasting },
        ({ protection, upcast }) => eventReading(protection, upcast),
      )
      .singleton(
        EventStore,
        { database: PostgresDatabase, protection: PostgresProtection },
        ({ database, protection }) =>
          new PostgresEventStore(database, {
            ...(options.upcasters ? { upcasters: options.upcasters } : {}),
            protection,
          }),
      )
      .singleton(
        IdempotencyStore,
        { database: PostgresDatabase },
        ({ database }) => new PostgresIdempotencyStore(database),
      )
      .singleton(
        Operations,
        { database: PostgresDatabase },
        ({ database }) => new PostgresOperations(database),
      )
      .scoped(
        PostgresUnitOfWorkToken,
        { database: PostgresDatabase, context: ExecutionContext, protection: PostgresProtection },
        ({ database, context, protection }) => new PostgresUnitOfWork(database, context, protection),
      )
      // Without projections; postgresProjections replaces it with one that runs their erasure hooks.
      .scoped(
        PersonalData,
        { work: PostgresUnitOfWorkToken, protection: PostgresProtection },
        ({ work, protection }) => personalDataService(work, protection, []),
      )
      .scoped(UnitOfWork, { work: PostgresUnitOfWorkToken }, ({ work }) => work)
      .singleton(Clock, () => options.clock ?? systemClock)
      .scoped(Schedule, { work: PostgresUnitOfWorkToken, clock: Clock }, ({ work, clock }) =>
        scheduleOf(work.context, clock, (change) => work.schedule(change)),
      )
      .use(unitOfWork(options))
      .use(eventUnitOfWork())
      .use(inbox())
      .include(
        processInspection(
          postgresStateStoredRepository(ProcessInstances, ProcessInstance, { collection: processCollection }),
        ),
      );
  };
}
