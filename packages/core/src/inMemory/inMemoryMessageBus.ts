import type { BusHandler, BusMessage, MessageBus, SubscribeOptions } from '../integration/messageBus.ts';

/** Deliveries of a message to one subscription before its failure is given up on (and told to the publisher). */
const maxDeliveries = 5;

/** The handlers of one subscription: one, or several sharing a name, which take turns. */
interface Subscription {
  readonly handlers: BusHandler[];
  next: number;
}

/**
 * The message bus over memory, keeping the port's promises in one process: each published message goes to every
 * subscription of its type, in order; subscribers sharing a name are one subscription and take turns; a handler
 * that fails gets the message again, up to 5 times, after which its failure is thrown to the publisher (once every
 * subscription has had the message).
 */
export class InMemoryMessageBus implements MessageBus {
  readonly #subscriptions = new Map<string, Map<string | symbol, Subscription>>();
  readonly #published: BusMessage[] = [];

  async publish(messages: readonly BusMessage[]): Promise<void> {
    const failures: unknown[] = [];
    for (const message of messages) {
      this.#published.push(message);
      for (const subscription of [...(this.#subscriptions.get(message.metadata.type)?.values() ?? [])]) {
        const failure = await this.#deliver(subscription, message);
        if (failure !== undefined) failures.push(failure.error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} subscriber(s) failed`);
  }

  async #deliver(subscription: Subscription, message: BusMessage): Promise<{ error: unknown } | undefined> {
    let last: { error: unknown } | undefined;
    for (let attempt = 0; attempt < maxDeliveries; attempt++) {
      const { handlers } = subscription;
      if (handlers.length === 0) return undefined;
      const handler = handlers[subscription.next++ % handlers.length] as BusHandler;
      try {
        await handler(message);
        return undefined;
      } catch (error) {
        last = { error };
      }
    }
    return last;
  }

  subscribe(type: string, handler: BusHandler, options: SubscribeOptions = {}): () => void {
    let byName = this.#subscriptions.get(type);
    if (byName === undefined) this.#subscriptions.set(type, (byName = new Map()));
    // Without a name, a subscription of its own.
    const name = options.name ?? Symbol('subscription');
    let subscription = byName.get(name);
    if (subscription === undefined) byName.set(name, (subscription = { handlers: [], next: 0 }));
    const joined = subscription;
    joined.handlers.push(handler);
    return () => {
      const index = joined.handlers.indexOf(handler);
      if (index >= 0) joined.handlers.splice(index, 1);
      if (joined.handlers.length === 0) byName.delete(name);
    };
  }

  /** Every message published so far, for assertions in tests. */
  get published(): readonly BusMessage[] {
    return this.#published;
  }
}
