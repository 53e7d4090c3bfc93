import { token } from '../dependencyInjection/token.ts';
import type { EventMetadata } from '../mediation/executionContext.ts';

/** An integration event crossing a process boundary: its payload and metadata. */
export interface BusMessage {
  readonly data: unknown;
  readonly metadata: EventMetadata;
}

export type BusHandler = (message: BusMessage) => Promise<void> | void;

/** Carries integration events between services (NATS JetStream in production, memory in tests). */
export interface MessageBus {
  publish(messages: readonly BusMessage[]): Promise<void>;
  /** Delivers messages of `type` to `handler` until the returned function is called. */
  subscribe(type: string, handler: BusHandler): () => void;
}

/** The bus integration events travel on; adapters register theirs under this token. */
export const MessageBus = token<MessageBus>('MessageBus');
