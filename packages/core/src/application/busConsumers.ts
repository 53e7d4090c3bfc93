import type { BusMessage, MessageBus } from '../integration/messageBus.ts';
import type { EventHandler } from '../mediation/handler.ts';
import { PersonalDataReader } from '../personalData/personalData.ts';
import { envelopeOf } from '../personalData/personalDataCipher.ts';
import type { Application } from './application.ts';

/**
 * Feeds integration events from other services, arriving on a message bus, to some of this application's event
 * handlers: each handler is a durable subscription of its own (named after it), and a message is acknowledged once
 * the handler's delivery resolved, that is after its unit of work committed. Declare such handlers
 * `idempotent: true`, so that a redelivery (the bus delivers at least once) has no second effect. Events with
 * personal data arrive sealed, as the publisher's log holds them: the application's `PersonalDataReader` opens
 * them (placeholders once the subject was forgotten); with none, such a message fails, never reaching a handler
 * sealed (its bus redelivers it, then dead-letters it).
 * @returns stops every subscription.
 * @example const stop = consumeFromBus(app, bus, [reserveStock, notifyKitchen]);
 */
export function consumeFromBus(
  app: Application,
  bus: MessageBus,
  handlers: readonly EventHandler<any>[],
): () => void {
  const stops = handlers.map((handler) => {
    if (handler.message.options.integration !== true) {
      throw new TypeError(
        `${handler.message.type} is not an integration event: declare it with event(type, schema, { integration: true })`,
      );
    }
    if (!app.eventHandlers.includes(handler)) {
      throw new TypeError(`The event handler '${handler.name}' is not registered with the application`);
    }
    const definition = handler.message;
    return bus.subscribe(
      definition.type,
      async (message) => {
        const { data, metadata } =
          envelopeOf(message.data) === undefined ? message : await opened(app, message);
        await app.mediator.publish(new definition(data), {
          handler: handler.name,
          eventId: metadata.eventId,
          occurredAt: metadata.occurredAt,
          correlationId: metadata.correlationId,
          causationId: metadata.causationId,
          principal:
            metadata.principal === undefined ? undefined : { subject: metadata.principal, roles: [] },
          // The trace of the service that wrote the event: this handler's span continues it.
          traceparent: metadata.traceparent,
          tracestate: metadata.tracestate,
        });
      },
      { name: `${definition.type}-${handler.name}` },
    );
  });
  return () => {
    for (const stop of stops) stop();
  };
}

/** The message with its sealed personal data opened by the application's reader. */
async function opened(app: Application, message: BusMessage): Promise<BusMessage> {
  if (!app.container.has(PersonalDataReader)) {
    throw new Error(
      `A '${message.metadata.type}' event arrived with sealed personal data, and this application cannot open it: give its persistence the publisher's data keys and master key`,
    );
  }
  const [revealed] = await app.container.root.resolve(PersonalDataReader).reveal([message]);
  return revealed as BusMessage;
}
