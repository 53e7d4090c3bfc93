import type { AnyEvent } from '../messages/message.ts';

/** The class of an aggregate, as repositories need it: constructible from an id alone. */
export interface AggregateType<TAggregate extends AggregateRoot<any, any>> {
  new (id: string): TAggregate;
  readonly name: string;
}

/**
 * A consistency boundary with an identity. Its state changes only by applying the events it raises, so the same
 * `apply` rebuilds it from its history (event-sourced) and keeps a stored document honest (state-stored).
 *
 * `version` is the number of events the stored aggregate has applied; it is what optimistic concurrency
 * compares. Pending events are written, with the state, by the unit of work, which then marks them committed.
 * @example
 * class Counter extends AggregateRoot<{ count: number }, Incremented> {
 *   constructor(id: string) { super(id, { count: 0 }); }
 *   increment() { this.raise(new Incremented({ by: 1 })); }
 *   protected override apply(state: { count: number }, event: Incremented) { return { count: state.count + event.by }; }
 * }
 */
export abstract class AggregateRoot<TState, TEvent extends AnyEvent = AnyEvent> {
  #state: TState;
  #version = 0;
  #pending: TEvent[] = [];

  readonly id: string;

  constructor(id: string, initialState: TState) {
    if (typeof id !== 'string' || id.length === 0)
      throw new TypeError('An aggregate needs a non-empty string id');
    this.id = id;
    this.#state = initialState;
  }

  /** The next state after `event`. Must be pure: it runs again on every rebuild. */
  protected abstract apply(state: TState, event: TEvent): TState;

  /** Records a fact: applies it to the state and queues it for the unit of work. */
  protected raise(event: TEvent): void {
    this.#state = this.apply(this.#state, event);
    this.#pending.push(event);
  }

  /** The current state, read-only. */
  get state(): Readonly<TState> {
    return this.#state;
  }

  /** The version as last loaded or committed (pending events not counted). */
  get version(): number {
    return this.#version;
  }

  /** The version once the pending events are committed. */
  get nextVersion(): number {
    return this.#version + this.#pending.length;
  }

  /** Events raised since the aggregate was loaded or last committed. */
  get pendingEvents(): readonly TEvent[] {
    return this.#pending;
  }

  /** For persistence adapters: the pending events were written; count them into the version and forget them. */
  markCommitted(): void {
    this.#version += this.#pending.length;
    this.#pending = [];
  }

  /** For persistence adapters: rebuilds from history (after a snapshot at `fromVersion`, or from the start). */
  loadFromHistory(events: Iterable<TEvent>, fromVersion = 0, fromState?: TState): this {
    if (fromState !== undefined) this.#state = fromState;
    let version = fromVersion;
    for (const event of events) {
      this.#state = this.apply(this.#state, event);
      version++;
    }
    this.#version = version;
    this.#pending = [];
    return this;
  }

  /** For persistence adapters: restores a stored state at its version. */
  restore(state: TState, version: number): this {
    this.#state = state;
    this.#version = version;
    this.#pending = [];
    return this;
  }
}
