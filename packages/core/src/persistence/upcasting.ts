import type { EventDefinition } from '../messages/message.ts';
import type { StoredEvent } from './eventStore.ts';

/** Turns the payload of one version of an event type into the next version's. */
export interface Upcaster {
  readonly type: string;
  readonly fromVersion: number;
  readonly upcast: (data: any) => unknown;
}

/**
 * Declares how an event stored at `fromVersion` becomes `fromVersion + 1` when read. Events are immutable once
 * stored, so a payload's shape changes by adding a version and an upcaster; chains run until the newest version.
 * @example upcaster(OrderPlaced, 1, (old: { pizza: string }) => ({ pizzas: [old.pizza] }))
 */
export function upcaster<TData>(
  event: EventDefinition | string,
  fromVersion: number,
  upcast: (data: TData) => unknown,
): Upcaster {
  if (!Number.isInteger(fromVersion) || fromVersion < 1) {
    throw new TypeError(`An upcaster's fromVersion must be a positive integer, not ${fromVersion}`);
  }
  return { type: typeof event === 'string' ? event : event.type, fromVersion, upcast };
}

/** What upcasting reads of a stored event: its payload, type and schema version. */
export interface Upcastable {
  readonly data: unknown;
  readonly metadata: { readonly type: string; readonly version: number };
}

/** Applies the upcasters to a stored event, or to anything with its payload, type and version. */
export type Upcast = <TEvent extends Upcastable = StoredEvent>(event: TEvent) => TEvent;

/** A function applying every upcaster that matches a stored event, in version order; identity when none do. */
export function upcasting(upcasters: readonly Upcaster[]): Upcast {
  if (upcasters.length === 0) return (event) => event;
  const byKey = new Map<string, Upcaster>();
  for (const entry of upcasters) {
    const key = `${entry.type}@${entry.fromVersion}`;
    if (byKey.has(key))
      throw new TypeError(`Two upcasters turn '${entry.type}' version ${entry.fromVersion}`);
    byKey.set(key, entry);
  }
  return <TEvent extends Upcastable>(event: TEvent): TEvent => {
    let { data } = event;
    let version = event.metadata.version;
    for (let next = byKey.get(`${event.metadata.type}@${version}`); next !== undefined; ) {
      data = next.upcast(data);
      version += 1;
      next = byKey.get(`${event.metadata.type}@${version}`);
    }
    return version === event.metadata.version
      ? event
      : { ...event, data, metadata: { ...event.metadata, version } };
  };
}
