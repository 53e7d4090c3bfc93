import type { StoredEvent } from '../persistence/eventStore.ts';
import type { LogPosition } from './logPosition.ts';

/** Called with each batch of committed events, in log order, and the position of its last event. */
export type ChangeListener = (events: readonly StoredEvent[], position: LogPosition) => void;

/**
 * The log's commits as they happen, read once per process and handed to every follower: what live views follow,
 * so that ten thousand open streams cost one reader, not ten thousand. A store provides it (`commitFeed` in
 * `@myelin/postgres`); an HTTP layer's live queries consume it.
 */
export interface ChangeFeed {
  /**
   * Calls `listener` with every batch committed after the returned position, until `signal` aborts. The listener
   * runs synchronously inside the feed's loop: it must only note what it needs and return.
   */
  follow(listener: ChangeListener, signal: AbortSignal): Promise<LogPosition>;
}
