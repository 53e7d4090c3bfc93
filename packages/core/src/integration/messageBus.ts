import { token } from '../dependencyInjection/token.ts';
import type { EventMetadata } from '../mediation/executionContext.ts';

/** An integration event crossing a process boundary: its payload and metadata. */
export interface BusMessage {
  readonly data: unknown;
  readonly metadata: EventMetadata;
}

export type BusHandler = (message: BusMessage) => Promise<void> | void;

export interface SubscribeOptions {
  /** The subscription's durable name: subscribers sharing it share the work. */
  readonly name?: string;
}

/** Carries integration events between services (NATS JetStream in production, memory in tests). */
export interface MessageBus {
  publish(messages: readonly BusMessage[]): Promise<void>;
  /**
   * Delivers messages of `type` to `handler` until the returned function is called. Subscribers with the same
   * `name` share the messages (competing consumers, on a durable bus across processes and restarts); a message
   * counts as handled when the handler's promise resolves, and is redelivered when it rejects.
   */
  subscribe(type: string, handler: BusHandler, options?: SubscribeOptions): () => void;
}

/** The bus integration events travel on; adapters register theirs under this token. */
export const MessageBus = token<MessageBus>('MessageBus');
