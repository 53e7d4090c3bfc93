import { token } from '../dependencyInjection/token.ts';
import type { LogPosition } from '../log/logPosition.ts';
import type { StoredEvent } from './eventStore.ts';

/** What a commit wrote. */
export interface CommitResult {
  readonly events: readonly StoredEvent[];
  /** The global log position of the last event written, when any was. */
  readonly position: LogPosition | undefined;
}

/**
 * Everything one command changes, written at once. The unit-of-work behavior commits it when the handler
 * succeeds and rolls it back when the handler fails or throws. Persistence adapters provide it, scoped.
 */
export interface UnitOfWork {
  commit(): Promise<CommitResult>;
  rollback(): Promise<void>;
}

/** The token persistence adapters register their unit of work under. */
export const UnitOfWork = token<UnitOfWork>('UnitOfWork');
