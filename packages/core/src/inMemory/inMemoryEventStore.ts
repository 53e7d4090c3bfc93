import type {
  AppendResult,
  EventStore,
  ExpectedVersion,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEvent,
} from '../persistence/eventStore.ts';
import { InMemoryDatabase } from './inMemoryDatabase.ts';

/** The event store port over memory: the semantics of the PostgreSQL store, for tests and examples. */
export class InMemoryEventStore implements EventStore {
  readonly database: InMemoryDatabase;

  constructor(database: InMemoryDatabase = new InMemoryDatabase()) {
    this.database = database;
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion: ExpectedVersion = 'any',
  ): Promise<AppendResult> {
    const stored = this.database.commit([], [{ streamId, expectedVersion, events }]);
    const last = stored.at(-1) ?? this.database.storedEvent(events.at(-1)?.metadata.eventId ?? '');
    return { nextVersion: this.database.stream(streamId)?.length ?? 0, lastPosition: last?.position ?? 0 };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly StoredEvent[]> {
    const stream = this.database.stream(streamId) ?? [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (options.direction === 'backwards') {
      const from = options.from ?? stream.length;
      return stream.slice(0, from).reverse().slice(0, limit).map(copy);
    }
    const from = options.from ?? 1;
    return stream.slice(from - 1, from - 1 + limit).map(copy);
  }

  async readAll(options: ReadAllOptions = {}): Promise<readonly StoredEvent[]> {
    const after = options.after ?? 0;
    return this.database.log.slice(after, after + (options.limit ?? Number.POSITIVE_INFINITY)).map(copy);
  }
}

function copy(event: StoredEvent): StoredEvent {
  return { ...event, data: structuredClone(event.data), metadata: { ...event.metadata } };
}
