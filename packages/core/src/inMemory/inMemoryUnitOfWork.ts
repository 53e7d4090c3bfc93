import { type Token, token } from '../dependencyInjection/token.ts';
import type { AggregateRoot } from '../domain/aggregateRoot.ts';
import type { ExecutionContext } from '../mediation/executionContext.ts';
import { type AnyEvent, definitionOf, type EventDefinition, payloadOf } from '../messages/message.ts';
import type { NewEvent, StoredEvent } from '../persistence/eventStore.ts';
import type { CommitResult, UnitOfWork } from '../persistence/unitOfWork.ts';
import {
  type ScheduleChange,
  type ScheduledMessage,
  ScheduledMessageGoneError,
} from '../scheduling/schedule.ts';
import {
  type DocumentWrite,
  type Enlisted,
  type InMemoryDatabase,
  type StreamAppend,
  scheduledCollection,
} from './inMemoryDatabase.ts';
import type { InMemoryProtection } from './inMemoryPersonalData.ts';

export { scheduledCollection } from './inMemoryDatabase.ts';

/** The in-memory database of an application (a singleton). */
export const InMemoryDatabaseToken = token<InMemoryDatabase>('InMemoryDatabase');
export const InMemoryUnitOfWorkToken = token<InMemoryUnitOfWork>('InMemoryUnitOfWork');
export type WorkDependency = { readonly work: Token<InMemoryUnitOfWork> };

export interface Tracked {
  readonly aggregate: AggregateRoot<unknown, AnyEvent>;
  readonly storage: 'state' | 'events';
  /** The collection (state-stored) or stream (event-sourced) the aggregate lives in. */
  readonly key: string;
  operation: 'add' | 'update' | 'remove' | 'loaded';
}

/**
 * The unit of work over memory: tracks the aggregates a command touches and writes them, with their events, in one
 * atomic commit; then delivers the events to the application's event handlers (in process, after the commit, as
 * the relay does with a database).
 */
export class InMemoryUnitOfWork implements UnitOfWork {
  readonly #tracked = new Map<string, Tracked>();
  readonly #schedule: ScheduleChange[] = [];
  readonly #enlisted: Enlisted[] = [];

  readonly database: InMemoryDatabase;
  readonly context: ExecutionContext;
  /** Seals the personal data of the events it commits; repositories open it with it. */
  readonly protection: InMemoryProtection;

  constructor(database: InMemoryDatabase, context: ExecutionContext, protection = database.protection) {
    this.database = database;
    this.context = context;
    this.protection = protection;
  }

  /** @internal */
  tracked(
    storage: Tracked['storage'],
    key: string,
    id: string,
  ): AggregateRoot<unknown, AnyEvent> | undefined {
    return this.#tracked.get(`${storage}:${key}:${id}`)?.aggregate;
  }

  /** @internal */
  track(entry: Tracked): void {
    const id = `${entry.storage}:${entry.key}:${entry.aggregate.id}`;
    const existing = this.#tracked.get(id);
    if (existing !== undefined && existing.aggregate !== entry.aggregate) {
      throw new Error(`Two different instances of '${id}' are tracked in one unit of work`);
    }
    // 'add' and 'remove' are decisions; 'loaded' and 'update' never undo them.
    if (existing === undefined || entry.operation === 'add' || entry.operation === 'remove')
      this.#tracked.set(id, entry);
  }

  /** @internal A message scheduled or cancelled by this unit of work, written when it commits. */
  schedule(change: ScheduleChange): void {
    this.#schedule.push(change);
  }

  /** @internal Work that commits with this unit of work, in its commit's turn (forgetting a subject). */
  enlist(work: Enlisted): void {
    this.#enlisted.push(work);
  }

  async commit(): Promise<CommitResult> {
    const documents: DocumentWrite[] = this.#scheduleWrites();
    const appends: StreamAppend[] = [];
    const raised: { event: AnyEvent; metadata: NewEvent['metadata'] }[] = [];
    for (const entry of this.#tracked.values()) {
      const { aggregate, storage, key, operation } = entry;
      const events: NewEvent[] = aggregate.pendingEvents.map((event) => {
        const definition = definitionOf(event) as EventDefinition;
        const metadata = this.context.eventMetadata(definition.type, definition.options.version ?? 1);
        raised.push({ event, metadata });
        return { data: payloadOf(event), metadata };
      });
      const expected = operation === 'add' ? 'no_stream' : aggregate.version;
      if (storage === 'state') {
        if (operation === 'remove' || operation === 'add' || events.length > 0) {
          documents.push({
            collection: key,
            id: aggregate.id,
            expectedVersion: expected,
            state: operation === 'remove' ? undefined : aggregate.state,
            version: aggregate.nextVersion,
          });
        }
        if (events.length > 0)
          appends.push({ streamId: `${key}-${aggregate.id}`, expectedVersion: 'any', events });
      } else {
        if (operation === 'remove') {
          documents.push({
            collection: `${key}:removed`,
            id: aggregate.id,
            expectedVersion: 'no_stream',
            state: true,
            version: 0,
          });
        }
        if (events.length > 0 || operation === 'remove') {
          appends.push({ streamId: `${key}-${aggregate.id}`, expectedVersion: expected, events });
        }
      }
    }
    let stored: StoredEvent[];
    try {
      stored = await this.database.commit(documents, appends, {
        protection: this.protection,
        enlisted: this.#enlisted.splice(0),
      });
    } catch (error) {
      // A scheduled command whose message another delivery removed first: not a conflict to retry, but done.
      const delivered = this.context.scheduled;
      if (delivered !== undefined && !this.#stillScheduled(delivered))
        throw new ScheduledMessageGoneError(delivered);
      throw error;
    }
    for (const entry of this.#tracked.values()) entry.aggregate.markCommitted();
    this.#tracked.clear();
    this.#schedule.length = 0;
    // Delivered after the commit and all of them, even when a handler fails; failures are then thrown together.
    // In clear, as the aggregate raised them, unless their subject is forgotten by now (by this very commit, say):
    // then with placeholders, as a handler reading them from the log would get them.
    const erased = await this.protection.erasedAmong(stored);
    const failures: unknown[] = [];
    for (const { event, metadata } of raised) {
      const opened = erased.get(metadata.eventId);
      await this.context
        .publish(opened === undefined ? event : new (definitionOf(event) as EventDefinition)(opened.data), {
          eventId: metadata.eventId,
          occurredAt: metadata.occurredAt,
          correlationId: metadata.correlationId,
          causationId: metadata.causationId,
          traceparent: metadata.traceparent,
          tracestate: metadata.tracestate,
        })
        .catch((error: unknown) => failures.push(error));
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, 'Event handlers failed after the commit');
    return { events: stored, position: stored.at(-1)?.position };
  }

  async rollback(): Promise<void> {
    this.#tracked.clear();
    this.#schedule.length = 0;
    this.#enlisted.length = 0;
  }

  /**
   * The writes of what this unit of work scheduled or cancelled (each at the version it read, so a concurrent change
   * fails the commit), and, when it delivers a scheduled command, the removal of that message.
   */
  #scheduleWrites(): DocumentWrite[] {
    const latest = new Map<string, ScheduleChange>();
    // In clear: the database seals them in the commit's turn.
    for (const change of this.#schedule)
      latest.set(change.kind === 'store' ? change.message.id : change.id, change);
    const delivered = this.context.scheduled;
    if (delivered !== undefined) {
      if (!this.#stillScheduled(delivered)) throw new ScheduledMessageGoneError(delivered);
      if (!latest.has(delivered)) latest.set(delivered, { kind: 'cancel', id: delivered });
    }
    const writes: DocumentWrite[] = [];
    for (const [id, change] of latest) {
      const current = this.database.document(scheduledCollection, id);
      if (change.kind === 'cancel' && current === undefined) continue;
      writes.push({
        collection: scheduledCollection,
        id,
        expectedVersion: current?.version ?? 'no_stream',
        state: change.kind === 'store' ? change.message : undefined,
        version: (current?.version ?? 0) + 1,
      });
    }
    return writes;
  }

  /** Whether the message this execution delivers is still scheduled (not delivered, cancelled or replaced). */
  #stillScheduled(id: string): boolean {
    const current = this.database.document(scheduledCollection, id)?.state as ScheduledMessage | undefined;
    return current?.messageId === this.context.messageId;
  }
}
