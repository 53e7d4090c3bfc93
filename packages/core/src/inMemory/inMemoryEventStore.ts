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

/** Options of the in-memory event store. */
export interface InMemoryEventStoreOptions {
  /** Turn old versions of events into the current shape when read. */
  readonly upcasters?: readonly Upcaster[];
}

/** The event store port over memory: the semantics of the PostgreSQL store, for tests and examples. */
export class InMemoryEventStore implements EventStore {
  readonly database: InMemoryDatabase;
  readonly #read: (event: StoredEvent) => StoredEvent;

  constructor(database: InMemoryDatabase = new InMemoryDatabase(), options: InMemoryEventStoreOptions = {}) {
    this.database = database;
    const upcast = upcasting(options.upcasters ?? []);
    this.#read = (event) => upcast(copy(event));
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion: ExpectedVersion = 'any',
  ): Promise<AppendResult> {
    const stored = await this.database.commit([], [{ streamId, expectedVersion, events }]);
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
      return stream.slice(0, from).reverse().slice(0, limit).map(this.#read);
    }
    const from = options.from ?? 1;
    return stream.slice(from - 1, from - 1 + limit).map(this.#read);
  }

  async readAll(options: ReadAllOptions = {}): Promise<readonly StoredEvent[]> {
    const { log } = this.database;
    const after = options.after ?? startOfLog;
    let start = log.findIndex((event) => comparePositions(event.position, after) > 0);
    if (start === -1) start = log.length;
    return log.slice(start, start + (options.limit ?? Number.POSITIVE_INFINITY)).map(this.#read);
  }
}

function copy(event: StoredEvent): StoredEvent {
  return { ...event, data: structuredClone(event.data), metadata: { ...event.metadata } };
}
