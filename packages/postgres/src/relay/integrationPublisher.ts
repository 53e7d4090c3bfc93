import {
  type Application,
  type EventDefinition,
  type MessageBus,
  reportErrors,
  type StoredEvent,
} from '@myelin/core';
import type { Database, Sql } from '../database/database.ts';
import { PostgresUpcasting } from '../eventStore/postgresEventStore.ts';
import {
  type Consumer,
  type RunnerOptions,
  SubscriptionRunner,
} from '../subscriptions/subscriptionRunner.ts';

export interface IntegrationPublisherOptions extends RunnerOptions {
  /** The integration events this service publishes: its contract with the others, so it is listed, not guessed. */
  readonly events: readonly EventDefinition[];
}

/** The subscription the integration publisher keeps its checkpoint under. */
export const integrationSubscription = 'integration:publisher';

/**
 * Publishes the integration events it is given (declared `event(type, schema, { integration: true })`) from the
 * log to a message bus (NATS JetStream with `@myelin/nats`), in log order, after their commit: the log is the
 * outbox. A batch is published, then the checkpoint moves; a crash between the two publishes the batch again,
 * which the bus drops by event id (JetStream's duplicate window). One process publishes at a time (a lease).
 */
export class IntegrationPublisher {
  readonly #runner: SubscriptionRunner;
  /** The integration event types it publishes (none: it has nothing to do). */
  readonly types: readonly string[];

  constructor(app: Application, database: Database, bus: MessageBus, options: IntegrationPublisherOptions) {
    for (const definition of options.events) {
      if (definition.options.integration !== true) {
        throw new TypeError(
          `${definition.type} is not an integration event: declare it with event(type, schema, { integration: true })`,
        );
      }
    }
    const types = options.events.map((definition) => definition.type);
    this.types = types;
    const upcast = app.container.root.resolve(PostgresUpcasting);
    const consumer: Consumer = {
      name: integrationSubscription,
      types,
      async consume(events: readonly StoredEvent[], _end: string, checkpoint: (sql: Sql) => Promise<void>) {
        await bus.publish(
          events.map((event) => upcast(event)).map(({ data, metadata }) => ({ data, metadata })),
        );
        await checkpoint(database);
        return undefined;
      },
    };
    this.#runner = new SubscriptionRunner(database, consumer, {
      ...options,
      onError: options.onError ?? reportErrors(app, 'integration publisher'),
    });
  }

  start(): this {
    if (this.types.length > 0) this.#runner.start();
    return this;
  }

  stop(): Promise<void> {
    return this.#runner.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
