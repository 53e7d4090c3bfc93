import { type LogPosition, logPosition, startOfLog } from '../log/logPosition.ts';
import type { ExpectedVersion, NewEvent, StoredEvent } from '../persistence/eventStore.ts';
import { ConcurrencyError } from '../persistence/repository.ts';
import type { Erasure } from '../personalData/personalData.ts';
import { type ScheduleChange, type ScheduledMessage, sealScheduled } from '../scheduling/schedule.ts';
import { InMemoryDataKeys } from './inMemoryDataKeys.ts';
import { InMemoryProtection } from './inMemoryPersonalData.ts';
import { InMemoryReadModels, type Staged } from './inMemoryReadModels.ts';

/** The collection scheduled messages are kept in. @internal */
export const scheduledCollection = 'myelin.scheduled';

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

/**
 * Work that commits with a commit, in its turn (forgetting a subject): it may write read models through `staged`,
 * and answers what else it changes, which runs when the commit lands (and only then).
 */
export type Enlisted = (staged: Staged) => Promise<(() => void) | undefined>;

/** What a commit does besides its writes. */
export interface CommitOptions {
  /**
   * Seals the personal data of the events appended, and opens it for the inline projections; the database's own
   * (with its random master key) when absent.
   */
  readonly protection?: InMemoryProtection;
  readonly enlisted?: readonly Enlisted[];
}

interface StoredDocument {
  readonly state: unknown;
  readonly version: number;
}

/**
 * The state of the in-memory adapters: documents, streams, the global log and the read models. Commits take turns
 * (one lock), check every expectation before they change anything, and apply the inline projections of what they
 * write to a staged copy that lands with them or not at all: each commit is atomic. Readers see only what landed.
 * Stored values are deep copies: nothing outside can change them by accident.
 */
export class InMemoryDatabase {
  /** The projections' versions, checkpoints and read models. */
  readonly readModels = new InMemoryReadModels();
  /** The subjects' data keys, which seal their personal data. */
  readonly dataKeys = new InMemoryDataKeys();
  readonly #erasures: Erasure[] = [];
  #protection: InMemoryProtection | undefined;
  readonly #documents = new Map<string, Map<string, StoredDocument>>();
  readonly #streams = new Map<string, StoredEvent[]>();
  readonly #log: StoredEvent[] = [];
  readonly #byId = new Map<string, StoredEvent>();
  #transactions = 0;
  #turn: Promise<void> = Promise.resolve();
  #generation = 0;
  #waiters = new Set<() => void>();

  /** Runs `work` when every commit (and every other exclusive work) before it has finished. */
  async exclusive<T>(work: () => Promise<T> | T): Promise<T> {
    const previous = this.#turn;
    let release = () => {};
    this.#turn = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }

  /**
   * Commits documents and events atomically, the events' personal data sealed, with the inline projections that
   * handle those events and the work enlisted: when a check, a projection or an enlisted work fails, nothing lands.
   */
  commit(
    documents: readonly DocumentWrite[],
    appends: readonly StreamAppend[],
    options: CommitOptions = {},
  ): Promise<StoredEvent[]> {
    const protection = options.protection ?? this.protection;
    return this.exclusive(async () => {
      // Sealed in the commit's turn, the scheduled events as the appended ones: no erasure lands in between.
      const write = this.#prepare(
        await sealScheduledDocuments(documents, protection),
        await protection.seal(appends),
      );
      const staged = this.readModels.stage();
      await this.readModels.applyInline(await protection.reveal(write.stored), staged);
      const landing: (() => void)[] = [];
      for (const work of options.enlisted ?? []) {
        const then = await work(staged);
        if (then !== undefined) landing.push(then);
      }
      write.apply();
      staged.apply();
      for (const then of landing) then();
      this.changed();
      return write.stored;
    });
  }

  /**
   * How the log is sealed and opened when no application's protection is at hand: with a random master key made
   * once for this database (memory is never persisted), which the applications that configure none share.
   */
  get protection(): InMemoryProtection {
    this.#protection ??= new InMemoryProtection(this);
    return this.#protection;
  }

  /** The erasures committed so far (who asked, when, what was reached), oldest first; never the erased data. */
  get erasures(): readonly Erasure[] {
    return this.#erasures;
  }

  /** @internal Records an erasure, as its commit lands. */
  recordErasure(erasure: Erasure): void {
    this.#erasures.push(Object.freeze({ ...erasure, readModels: Object.freeze([...erasure.readModels]) }));
  }

  /** @internal Counts an answer dropped after this erasure (claimed before it, completed after) among what it reached. */
  countDroppedResponse(erasureId: string): void {
    const index = this.#erasures.findIndex((erasure) => erasure.id === erasureId);
    const erasure = this.#erasures[index];
    if (erasure !== undefined) {
      this.#erasures[index] = Object.freeze({ ...erasure, responses: erasure.responses + 1 });
    }
  }

  /** Wakes whoever waits for a change (runners, queries reading their writes). */
  changed(): void {
    this.#generation++;
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** A count of the changes so far: pass it to {@link waitForChange} to wait for the next one. */
  get generation(): number {
    return this.#generation;
  }

  /** Resolves at the first change after `seen`, after `timeoutMs`, or when `signal` aborts. */
  waitForChange(seen: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#generation !== seen || signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }

  /** The position of the last event committed. */
  get head(): LogPosition {
    return this.#log.at(-1)?.position ?? startOfLog;
  }

  /** How many transactions have committed (the transaction part of the next position is one more). */
  get transactions(): number {
    return this.#transactions;
  }

  /** Checks a commit and computes what it stores; `apply` makes it land, all at once (it must run in the same turn). */
  #prepare(
    documents: readonly DocumentWrite[],
    appends: readonly StreamAppend[],
  ): { stored: StoredEvent[]; apply: () => void } {
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
    const transaction = this.#transactions + 1;
    const stored: StoredEvent[] = [];
    const versions = new Map<string, number>();
    for (const append of fresh) {
      let version = versions.get(append.streamId) ?? this.#streams.get(append.streamId)?.length ?? 0;
      for (const event of append.events) {
        stored.push({
          data: structuredClone(event.data),
          metadata: { ...event.metadata },
          streamId: append.streamId,
          streamVersion: ++version,
          position: logPosition(transaction, this.#log.length + stored.length + 1),
        });
      }
      versions.set(append.streamId, version);
    }
    const apply = () => {
      for (const write of documents) {
        let collection = this.#documents.get(write.collection);
        if (collection === undefined) this.#documents.set(write.collection, (collection = new Map()));
        if (write.state === undefined) collection.delete(write.id);
        else collection.set(write.id, { state: structuredClone(write.state), version: write.version });
      }
      // Commits land one at a time, so each gets the next transaction number and positions follow commit order.
      this.#transactions = transaction;
      for (const record of stored) {
        let stream = this.#streams.get(record.streamId);
        if (stream === undefined) this.#streams.set(record.streamId, (stream = []));
        stream.push(record);
        this.#log.push(record);
        this.#byId.set(record.metadata.eventId, record);
      }
    };
    return { stored, apply };
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

/** The documents, the personal fields of the scheduled events among them sealed (see `sealScheduled`). */
async function sealScheduledDocuments(
  documents: readonly DocumentWrite[],
  protection: InMemoryProtection,
): Promise<readonly DocumentWrite[]> {
  const scheduled = documents.filter(
    (document) => document.collection === scheduledCollection && document.state !== undefined,
  );
  if (scheduled.length === 0) return documents;
  const changes: ScheduleChange[] = scheduled.map((document) => ({
    kind: 'store',
    message: document.state as ScheduledMessage,
  }));
  const sealed = await sealScheduled(changes, (events) => protection.sealEvents(events));
  const states = new Map(
    scheduled.map((document, i) => [document, (sealed[i] as ScheduleChange & { kind: 'store' }).message]),
  );
  return documents.map((document) => {
    const state = states.get(document);
    return state === undefined ? document : { ...document, state };
  });
}
