// Personal data in memory, with the semantics of PostgreSQL's (see @myelin/postgres's protection.ts): appends seal
// it in their commit's turn, every reader of the log opens it (placeholders once forgotten), and forgetting a
// subject commits with the command that asked: their keys deleted, the read models' erasure hooks run, the
// answers kept for their idempotent requests dropped and the erasure recorded, all or nothing.
import type { Application } from '../application/application.ts';
import { clearQueryCaches } from '../behaviors/caching.ts';
import { token } from '../dependencyInjection/token.ts';
import type { StoredEvent } from '../persistence/eventStore.ts';
import { principalScope } from '../persistence/idempotencyStore.ts';
import type { MasterKeyOptions } from '../personalData/masterKey.ts';
import {
  checkForget,
  type ForgetOptions,
  type PersonalData,
  type PersonalDataReader,
} from '../personalData/personalData.ts';
import {
  DataKeyGoneError,
  envelopeOf,
  keyIdsOf,
  PersonalDataCipher,
  type Typed,
} from '../personalData/personalDataCipher.ts';
import type { Enlisted, InMemoryDatabase, StreamAppend } from './inMemoryDatabase.ts';
import type { InMemoryDataKeys } from './inMemoryDataKeys.ts';
import type { InMemoryIdempotencyStore } from './inMemoryIdempotencyStore.ts';
import type { InMemoryUnitOfWork } from './inMemoryUnitOfWork.ts';

/**
 * How personal data is protected: the master key wrapping the data keys (and those it replaced, see
 * `MasterKeyOptions`), and how many unwrapped keys to cache.
 */
export interface InMemoryPersonalDataOptions extends MasterKeyOptions {
  /** Unwrapped data keys kept in memory; defaults to 10,000. */
  readonly cacheSize?: number;
}

/** Seals, opens and forgets personal data in an in-memory database, with one application's master key. */
export class InMemoryProtection implements PersonalDataReader {
  readonly #database: InMemoryDatabase;
  readonly #keys: InMemoryDataKeys;
  readonly #cipher: PersonalDataCipher;

  /** Without options, the database's own master key (random, made once: memory is never persisted). */
  constructor(database: InMemoryDatabase, options?: InMemoryPersonalDataOptions) {
    this.#database = database;
    this.#keys = database.dataKeys;
    this.#cipher = new PersonalDataCipher(options?.masterKey ?? database.dataKeys.defaultMasterKey, {
      ...(options?.previousMasterKeys === undefined
        ? {}
        : { previousMasterKeys: options.previousMasterKeys }),
      ...(options?.cacheSize === undefined ? {} : { cacheSize: options.cacheSize }),
    });
  }

  /**
   * The appends with their events' personal data sealed, keys made for subjects who have none. Called in the
   * commit's turn, so no erasure lands between the sealing and the storing; a key cached here but deleted by
   * another application on the database is caught, and the events sealed again with the subject's new key.
   */
  async seal(appends: readonly StreamAppend[]): Promise<readonly StreamAppend[]> {
    const all = appends.flatMap((append) => append.events);
    if (!PersonalDataCipher.needed(all)) return appends;
    const events = await this.sealEvents(all);
    let next = 0;
    return appends.map((append) => ({
      ...append,
      events: events.slice(next, (next += append.events.length)),
    }));
  }

  /** Events (or anything with an event's data and type) with their personal data sealed, as `seal` does. */
  async sealEvents<TEvent extends Typed>(all: readonly TEvent[]): Promise<readonly TEvent[]> {
    for (let attempt = 1; ; attempt++) {
      const { events, keyIds } = await this.#cipher.seal(all, this.#keys);
      const present = new Set(this.#keys.existing(keyIds));
      const gone = keyIds.filter((id) => !present.has(id));
      if (gone.length === 0) return events;
      this.#cipher.forgotten([], gone);
      if (attempt === 3) throw new DataKeyGoneError(gone);
    }
  }

  /** The events with their personal data opened, or set to placeholders where their subject was forgotten. */
  reveal<TEvent extends Typed>(events: readonly TEvent[]): Promise<TEvent[]> {
    return this.#cipher.reveal(events, this.#keys);
  }

  /**
   * The events among these that were sealed with a key deleted since, opened (to placeholders), by event id: what
   * the handlers of a commit's events get instead of the aggregate's, when the commit forgot their subject.
   */
  async erasedAmong(events: readonly StoredEvent[]): Promise<ReadonlyMap<string, StoredEvent>> {
    const keyIds = keyIdsOf(events);
    if (keyIds.length === 0) return new Map();
    const present = new Set(this.#keys.existing(keyIds));
    const gone = events.filter((event) => {
      const envelope = envelopeOf(event.data);
      return envelope !== undefined && !present.has(envelope.key);
    });
    return new Map((await this.reveal(gone)).map((event) => [event.metadata.eventId, event]));
  }

  /**
   * Forgetting a subject, as work that commits with a commit: the erasure hooks of every version of a read model
   * in use write through the commit's staged changes; the keys' deletion, the idempotent answers' (scoped
   * with `principalScope` by the HTTP layer) and the erasure's record land with it. Then this application drops
   * what it cached of the keys, and every cached query result.
   */
  forgetting(
    subject: string,
    options: ForgetOptions,
    idempotency: InMemoryIdempotencyStore | undefined,
  ): Enlisted {
    return async (staged) => {
      const reached: string[] = [];
      const hooked = this.#database.readModels.running
        .filter((version) => version.projection.erasure !== undefined)
        .sort(
          (a, b) =>
            a.projection.name.localeCompare(b.projection.name) || a.projection.version - b.projection.version,
        );
      for (const version of hooked) {
        await version.projection.erasure?.(subject, staged.erasing(version) as never);
        reached.push(`${version.projection.name} v${version.projection.version}`);
      }
      return () => {
        const keyIds = this.#keys.idsOf(subject);
        this.#keys.delete(subject);
        const id = crypto.randomUUID();
        const responses =
          idempotency?.deleteFor(
            subject,
            options.principal === undefined ? undefined : principalScope(options.principal),
            () => this.#database.countDroppedResponse(id),
          ) ?? 0;
        this.#database.recordErasure({
          id,
          subject,
          requestedBy: options.requestedBy,
          reason: options.reason,
          at: new Date(),
          keys: keyIds.length,
          readModels: reached,
          responses,
        });
        this.#cipher.forgotten([subject], keyIds);
        clearQueryCaches();
      };
    };
  }
}

/** The application's protection of personal data (a singleton `inMemoryPersistence` registers). */
export const InMemoryProtectionToken = token<InMemoryProtection>('InMemoryProtection');

/** The protection an application reads its database's log with: its own, or the database's when it has none. */
export function protectionOf(app: Application, database: InMemoryDatabase): InMemoryProtection {
  return app.container.has(InMemoryProtectionToken)
    ? app.container.root.resolve(InMemoryProtectionToken)
    : database.protection;
}

/**
 * The `PersonalData` of a command: forgetting enlists in its unit of work, so that it commits with the command's
 * other changes (the subject's documents removed, say), or not at all.
 */
export function inMemoryPersonalData(
  work: InMemoryUnitOfWork,
  protection: InMemoryProtection,
  idempotency: InMemoryIdempotencyStore | undefined,
): PersonalData {
  return {
    async forget(subject, options) {
      checkForget(subject, options);
      work.enlist(protection.forgetting(subject, options, idempotency));
    },
  };
}
