import type { Application, ChangeFeed, LogPosition, Principal, Request, StoredEvent } from '@myelin/core';
import type { LiveEvent, LiveStream } from './live.ts';

type Params = Readonly<Record<string, string>>;

/** A read model followed live: which events may change it, and the query that reads it. */
export interface LiveQuery {
  /** The SSE event name of each state. */
  readonly event: string;
  /** The event types that may change what the query returns. */
  readonly types: readonly string[];
  /** Whether an event of those types concerns these parameters (all do when absent): an order's own events. */
  readonly concerns?: (event: StoredEvent, params: Params) => boolean;
  /** The query, from the path's parameters and the query-string ones named in `queryParams`. */
  readonly query: (params: Params) => Request<unknown>;
  /** Query-string parameters the query takes (a page, an access key), besides the path's. */
  readonly queryParams?: readonly string[];
  /** Roles that may listen (one of them); anyone when absent. */
  readonly roles?: readonly string[];
  /**
   * What the query's answer depends on besides its parameters, so that followers who would get the same answer
   * share one read: `'principal'` (the default: the same subject, roles and claims) or `'roles'` (anyone with
   * the same roles, for a query whose policy looks at nothing else, such as a staff board).
   */
  readonly sharedBy?: 'principal' | 'roles';
}

/**
 * A live stream of a read model: the current state first, then the new state after each commit that concerns it,
 * each with the log position it is at least as new as. A reconnecting browser gets the current state again, which
 * includes every change it missed.
 *
 * It follows the process's one change feed, and followers who would see the same answer share one read per
 * change: ten thousand customers following orders cost a function call each per commit, and one query for the
 * order that changed. States supersede one another, so a follower that has not taken the last one yet gets only
 * the newest. For an async read model, each read waits (through `minPosition`) until the projection has applied
 * the change it announces.
 * @example live: { '/api/kitchen/live': liveQuery(app, commitFeed(database), { event: 'queue', types, query }) }
 */
export function liveQuery(app: Application, feed: ChangeFeed, definition: LiveQuery): LiveStream {
  const groups = new Map<string, Group>();
  return {
    ...(definition.roles === undefined ? {} : { roles: definition.roles }),
    async events({ principal, params: path, query, signal }) {
      const params: Record<string, string> = { ...path };
      for (const name of definition.queryParams ?? []) {
        const value = query[name];
        if (typeof value === 'string') params[name] = value;
      }
      const key = JSON.stringify([
        Object.entries(params).sort(([a], [b]) => (a < b ? -1 : 1)),
        audienceOf(principal, definition.sharedBy ?? 'principal'),
      ]);
      let group = groups.get(key);
      if (group === undefined) {
        const made = new Group(app, feed, definition, params, principal, () => groups.delete(key));
        groups.set(key, made);
        group = made;
      }
      const joined = group;
      const follower = new Follower();
      joined.join(follower);
      try {
        // A feed that cannot start (the database does not answer) refuses the stream before it is answered.
        await joined.started;
      } catch (error) {
        joined.leave(follower);
        throw error;
      }
      return (async function* () {
        try {
          for (;;) {
            const event = await follower.next(signal);
            if (event === undefined) return;
            yield event;
            if (event.event === 'problem') return;
          }
        } finally {
          joined.leave(follower);
        }
      })();
    },
  };
}

const tokenOnlyClaims = new Set(['iat', 'exp', 'nbf', 'jti']);

function audienceOf(principal: Principal | undefined, sharedBy: 'principal' | 'roles'): unknown {
  if (principal === undefined) return null;
  const roles = [...principal.roles].sort();
  if (sharedBy === 'roles') return roles;
  // A policy may look at any claim; those that only date or name a token do not change what it may read.
  const claims = Object.entries(principal.claims ?? {}).filter(([name]) => !tokenOnlyClaims.has(name));
  return [principal.subject, roles, claims.sort(([a], [b]) => (a < b ? -1 : 1))];
}

/** One stream's mailbox: only the newest state waits in it. */
class Follower {
  #latest: LiveEvent | undefined;
  #failure: { readonly error: unknown } | undefined;
  #wake: (() => void) | undefined;

  offer(event: LiveEvent): void {
    // A problem ends the stream; nothing after it replaces it.
    if (this.#latest?.event !== 'problem') this.#latest = event;
    this.#notify();
  }

  fail(error: unknown): void {
    this.#failure = { error };
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The next state, once there is one; undefined when the signal aborts. */
  async next(signal: AbortSignal): Promise<LiveEvent | undefined> {
    for (;;) {
      if (signal.aborted) return undefined;
      if (this.#latest !== undefined) {
        const event = this.#latest;
        this.#latest = undefined;
        return event;
      }
      if (this.#failure !== undefined) throw this.#failure.error;
      await new Promise<void>((resolve) => {
        const aborted = () => resolve();
        signal.addEventListener('abort', aborted, { once: true });
        this.#wake = () => {
          signal.removeEventListener('abort', aborted);
          resolve();
        };
      });
    }
  }
}

/** The followers who see the same answer, and their one read. */
class Group {
  readonly #followers = new Set<Follower>();
  readonly #stop = new AbortController();
  #last: LiveEvent | undefined;
  #reading = false;
  /** The newest change that came while a read was running: read again after it. */
  #pending: LogPosition | undefined;
  #closed = false;
  readonly #app: Application;
  readonly #definition: LiveQuery;
  readonly #params: Params;
  /** The first follower's: every follower of the group would get the same answer. */
  readonly #principal: Principal | undefined;
  readonly #removed: () => void;
  /** Settles once the group follows the feed; rejected when the feed could not start. */
  readonly started: Promise<void>;

  constructor(
    app: Application,
    feed: ChangeFeed,
    definition: LiveQuery,
    params: Params,
    principal: Principal | undefined,
    removed: () => void,
  ) {
    this.#app = app;
    this.#definition = definition;
    this.#params = params;
    this.#principal = principal;
    this.#removed = removed;
    const types = new Set(definition.types);
    const concerns = definition.concerns;
    this.started = feed
      .follow((events, position) => {
        for (const event of events) {
          if (types.has(event.metadata.type) && (concerns === undefined || concerns(event, params))) {
            void this.#read(position);
            return;
          }
        }
      }, this.#stop.signal)
      .then((position) => {
        void this.#read(position);
      });
    this.started.catch((error: unknown) => this.#fail(error));
  }

  join(follower: Follower): void {
    this.#followers.add(follower);
    if (this.#last !== undefined) follower.offer(this.#last);
  }

  leave(follower: Follower): void {
    this.#followers.delete(follower);
    if (this.#followers.size === 0) this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    this.#removed();
  }

  #fail(error: unknown): void {
    if (this.#stop.signal.aborted) return;
    this.#close();
    for (const follower of this.#followers) follower.fail(error);
  }

  async #read(position: LogPosition): Promise<void> {
    if (this.#reading) {
      this.#pending = position;
      return;
    }
    this.#reading = true;
    const signal = this.#stop.signal;
    try {
      let at: LogPosition | undefined = position;
      while (at !== undefined && !signal.aborted) {
        const result = await this.#app.mediator.execute(this.#definition.query(this.#params), {
          principal: this.#principal,
          minPosition: at,
          signal,
        });
        if (signal.aborted) return;
        const event: LiveEvent = result.ok
          ? { id: at, event: this.#definition.event, data: result.data }
          : { event: 'problem', data: result.problem };
        if (result.ok) this.#last = event;
        else this.#close(); // an unknown order, a refused query: told to each follower, and the end of it
        for (const follower of this.#followers) follower.offer(event);
        at = this.#pending;
        this.#pending = undefined;
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#reading = false;
    }
  }
}
