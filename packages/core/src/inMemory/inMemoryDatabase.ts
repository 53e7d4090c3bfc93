import { logPosition } from '../log/logPosition.ts';
import type { ExpectedVersion, NewEvent, StoredEvent } from '../persistence/eventStore.ts';
import { ConcurrencyError } from '../persistence/repository.ts';

/** A document write: insert when `expectedVersion` is 'no_stream', else replace or delete at that version. */
export interface DocumentWrite {
  readonly collection: string;
  readonly id: string;
  readonly expectedVersion: number | 'no_stream';
  /** The new state, or undefined to delete. */
  readonly state: unknown;
  readonly version: number;
}

export interface StreamAppend {
  readonly streamId: string;
  readonly expectedVersion: ExpectedVersion;
  readonly events: readonly NewEvent[];
}

interface StoredDocument {
  readonly state: unknown;
  readonly version: number;
}

/**
 * The state of the in-memory adapters: documents, streams and the global log. A commit checks every expectation
 * before it changes anything, and runs without awaiting, so it is atomic with respect to every other commit.
 * Stored values are deep copies: nothing outside can change them by accident.
 */
export class InMemoryDatabase {
  readonly #documents = new Map<string, Map<string, StoredDocument>>();
  readonly #streams = new Map<string, StoredEvent[]>();
  readonly #log: StoredEvent[] = [];
  readonly #byId = new Map<string, StoredEvent>();
  #transactions = 0;

  commit(documents: readonly DocumentWrite[], appends: readonly StreamAppend[]): StoredEvent[] {
    for (const write of documents) {
      const current = this.#documents.get(write.collection)?.get(write.id);
      const key = `${write.collection}/${write.id}`;
      if (write.expectedVersion === 'no_stream') {
        if (current !== undefined) throw new ConcurrencyError(key, 'no_stream', current.version);
      } else if (current?.version !== write.expectedVersion) {
        throw new ConcurrencyError(key, write.expectedVersion, current?.version);
      }
    }
    const fresh = appends.map((append) => ({
      ...append,
      events: append.events.filter((event) => !this.#byId.has(event.metadata.eventId)),
    }));
    for (const [index, append] of fresh.entries()) {
      const version = this.#streams.get(append.streamId)?.length;
      const expected = append.expectedVersion;
      // A fully retried append (every id already stored) succeeds without writing, whatever the version.
      if (append.events.length === 0 && (appends[index] as StreamAppend).events.length > 0) continue;
      if (
        expected === 'no_stream' ? version !== undefined : expected !== 'any' && (version ?? 0) !== expected
      ) {
        throw new ConcurrencyError(append.streamId, expected, version);
      }
    }
    for (const write of documents) {
      let collection = this.#documents.get(write.collection);
      if (collection === undefined) this.#documents.set(write.collection, (collection = new Map()));
      if (write.state === undefined) collection.delete(write.id);
      else collection.set(write.id, { state: structuredClone(write.state), version: write.version });
    }
    const stored: StoredEvent[] = [];
    // Commits are atomic here, so each gets the next transaction number and positions follow commit order.
    const transaction = ++this.#transactions;
    for (const append of fresh) {
      let stream = this.#streams.get(append.streamId);
      if (stream === undefined) this.#streams.set(append.streamId, (stream = []));
      for (const event of append.events) {
        const record: StoredEvent = {
          data: structuredClone(event.data),
          metadata: { ...event.metadata },
          streamId: append.streamId,
          streamVersion: stream.length + 1,
          position: logPosition(transaction, this.#log.length + 1),
        };
        stream.push(record);
        this.#log.push(record);
        this.#byId.set(record.metadata.eventId, record);
        stored.push(record);
      }
    }
    return stored;
  }

  document(collection: string, id: string): { state: unknown; version: number } | undefined {
    const stored = this.#documents.get(collection)?.get(id);
    return stored === undefined
      ? undefined
      : { state: structuredClone(stored.state), version: stored.version };
  }

  documents(collection: string): { id: string; state: unknown; version: number }[] {
    return [...(this.#documents.get(collection) ?? new Map<string, StoredDocument>())].map(
      ([id, stored]) => ({
        id,
        state: structuredClone(stored.state),
        version: stored.version,
      }),
    );
  }

  stream(streamId: string): readonly StoredEvent[] | undefined {
    return this.#streams.get(streamId);
  }

  storedEvent(eventId: string): StoredEvent | undefined {
    return this.#byId.get(eventId);
  }

  get log(): readonly StoredEvent[] {
    return this.#log;
  }
}
