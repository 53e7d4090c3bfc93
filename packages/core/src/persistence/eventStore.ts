import { token } from '../dependencyInjection/token.ts';
import type { LogPosition } from '../log/logPosition.ts';
import type { EventMetadata } from '../mediation/executionContext.ts';

/** What an append expects of the stream: any state, that it does not exist yet, or exactly this version. */
export type ExpectedVersion = number | 'any' | 'no_stream';

/** An event about to be stored: its payload and its metadata (which carries its id, type and version). */
export interface NewEvent {
  readonly data: unknown;
  readonly metadata: EventMetadata;
}

/** An event as stored: its stream, its 1-based version in the stream, and its position in the global log. */
export interface StoredEvent extends NewEvent {
  readonly streamId: string;
  readonly streamVersion: number;
  readonly position: LogPosition;
}

export interface AppendResult {
  /** The stream's version after the append. */
  readonly nextVersion: number;
  /** The global position of the last event appended (or of the stored copy, for a retried append). */
  readonly lastPosition: LogPosition;
}

export interface ReadStreamOptions {
  /** Version to start at (inclusive); defaults to the first (forwards) or last (backwards). */
  readonly from?: number;
  readonly direction?: 'forwards' | 'backwards';
  readonly limit?: number;
}

export interface ReadAllOptions {
  /** Read events after this position; defaults to the start of the log. */
  readonly after?: LogPosition;
  readonly limit?: number;
}

/**
 * An append-only log of event streams. Appends are atomic and check the expected version; an event whose id is
 * already stored is not stored again, so a retried append does not duplicate.
 */
export interface EventStore {
  append(
    streamId: string,
    events: readonly NewEvent[],
    expectedVersion?: ExpectedVersion,
  ): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<readonly StoredEvent[]>;
  readAll(options?: ReadAllOptions): Promise<readonly StoredEvent[]>;
}

/** Where events are appended and read; adapters register theirs under this token. */
export const EventStore = token<EventStore>('EventStore');
