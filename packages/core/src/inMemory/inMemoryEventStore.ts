import { comparePositions, startOfLog } from '../log/logPosition.ts';
import type {
  AppendResult,
  EventStore,
  ExpectedVersion,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEvent,
} from '../persistence/eventStore.ts';
import { type Upcaster, upcasting } from '../persistence/upcasting.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';
import { type InMemoryPersonalDataOptions, InMemoryProtection } from './inMemoryPersonalData.ts';

/** Options of the in-memory event store. */
export interface InMemoryEventStoreOptions {
  /** Turn old versions of events into the current shape when read. */
  readonly upcasters?: readonly Upcaster[];
  /**
   * The master key protecting personal data: sealed on append, opened on read. Without it, the database's own
   * (random, made once: memory is never persisted).
   */
  readonly personalData?: InMemoryPersonalDataOptions;
  /** @internal The application's protection, shared with its unit of work (instead of `personalData`). */
  readonly protection?: InMemoryProtection;
}

/** The event store port over memory: the semantics of the PostgreSQL store, for tests and examples. */
export class InMemoryEventStore implements EventStore {
  readonly database: InMemoryDatabase;
  readonly #upcast: (event: StoredEvent) => StoredEvent;
  readonly #protection: InMemoryProtection;

  constructor(database: InMemoryDatabase = new InMemoryDatabase(), options: InMemoryEventStoreOptions = {}) {
    this.database = database;
    const upcast = upcasting(options.upcasters ?? []);
    this.#upcast = (event) => upcast(copy(event));
    this.#protection =
      options.protection ??
      (options.personalData === undefined
        ? database.protection
        : new InMemoryProtection(database, options.personalData));
  }

  /** Stored events as readers see them: personal data opened (or placeholders), then upcast. */
  async #read(events: readonly StoredEvent[]): Promise<readonly StoredEvent[]> {
    return (await this.#protection.reveal(events)).map(this.#upcast);
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion: ExpectedVersion = 'any',
  ): Promise<AppendResult> {
    const stored = await this.database.commit([], [{ streamId, expectedVersion, events }], {
      protection: this.#protection,
    });
    const last = stored.at(-1) ?? this.database.storedEvent(events.at(-1)?.metadata.eventId ?? '');
    return {
      nextVersion: this.database.stream(streamId)?.length ?? 0,
      lastPosition: last?.position ?? startOfLog,
    };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly StoredEvent[]> {
    const stream = this.database.stream(streamId) ?? [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (options.direction === 'backwards') {
      const from = options.from ?? stream.length;
      return this.#read(stream.slice(0, from).reverse().slice(0, limit));
    }
    const from = options.from ?? 1;
    return this.#read(stream.slice(from - 1, from - 1 + limit));
  }

  async readAll(options: ReadAllOptions = {}): Promise<readonly StoredEvent[]> {
    const { log } = this.database;
    const after = options.after ?? startOfLog;
    let start = log.findIndex((event) => comparePositions(event.position, after) > 0);
    if (start === -1) start = log.length;
    return this.#read(log.slice(start, start + (options.limit ?? Number.POSITIVE_INFINITY)));
  }
}

function copy(event: StoredEvent): StoredEvent {
  return { ...event, data: structuredClone(event.data), metadata: { ...event.metadata } };
}
