import type { BusHandler, BusMessage, MessageBus } from '../integration/messageBus.ts';

/**
 * The message bus over memory: delivers each published message to the current subscribers of its type, in order.
 * A subscriber's failure is thrown to the publisher after every subscriber has had the message.
 */
export class InMemoryMessageBus implements MessageBus {
  readonly #subscribers = new Map<string, Set<BusHandler>>();
  readonly #published: BusMessage[] = [];

  async publish(messages: readonly BusMessage[]): Promise<void> {
    const failures: unknown[] = [];
    for (const message of messages) {
      this.#published.push(message);
      for (const handler of this.#subscribers.get(message.metadata.type) ?? []) {
        try {
          await handler(message);
        } catch (error) {
          failures.push(error);
        }
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} subscriber(s) failed`);
  }

  subscribe(type: string, handler: BusHandler): () => void {
    let handlers = this.#subscribers.get(type);
    if (handlers === undefined) this.#subscribers.set(type, (handlers = new Set()));
    handlers.add(handler);
    return () => handlers.delete(handler);
  }

  /** Every message published so far, for assertions in tests. */
  get published(): readonly BusMessage[] {
    return this.#published;
  }
}
