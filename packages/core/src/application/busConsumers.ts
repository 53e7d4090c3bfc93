import type { StandardSchemaV1 } from '@standard-schema/spec';
import { toFieldErrors } from '../behaviors/validation.ts';
import type { BusMessage, MessageBus } from '../integration/messageBus.ts';
import type { EventHandler } from '../mediation/handler.ts';
import type { AnyMessageDefinition } from '../messages/message.ts';
import { PersonalDataReader, personalDataOf } from '../personalData/personalData.ts';
import { envelopeOf } from '../personalData/personalDataCipher.ts';
import type { Application } from './application.ts';

/** How integration events from a bus are trusted. */
export interface ConsumeOptions {
  /**
   * Run each handler as the principal the event names (its CloudEvent's `principal`, without roles). Off by
   * default: anyone who can publish on the bus could name any user, and a handler checking who acted would take
   * the claim for a sign-in. Turn it on only for a bus whose publishers the application authenticates itself.
   * (The relay does run an event's handlers as the principal it names: it reads this application's own log,
   * which only its commands wrote. A bus is not that log.)
   */
  readonly trustPrincipal?: boolean;
}

/**
 * Feeds integration events from other services, arriving on a message bus, to some of this application's event
 * handlers: each handler is a durable subscription of its own (named after it), and a message is acknowledged once
 * the handler's delivery resolved, that is after its unit of work committed. Declare such handlers
 * `idempotent: true`, so that a redelivery (the bus delivers at least once) has no second effect. Events with
 * personal data arrive sealed, as the publisher's log holds them: the application's `PersonalDataReader` opens
 * them (placeholders once the subject was forgotten); with none, such a message fails, never reaching a handler
 * sealed (its bus redelivers it, then dead-letters it).
 *
 * What arrives is checked as input from outside is: its data against the event's schema (a message that fails is
 * refused, naming the fields, so the bus redelivers, then dead-letters it; a handler never sees it), and the
 * principal it names is not trusted (see {@link ConsumeOptions.trustPrincipal}): the handler runs as no one.
 * @returns stops every subscription.
 * @example const stop = consumeFromBus(app, bus, [reserveStock, notifyKitchen]);
 */
export function consumeFromBus(
  app: Application,
  bus: MessageBus,
  handlers: readonly EventHandler<any>[],
  options: ConsumeOptions = {},
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
        const envelope = envelopeOf(message.data);
        const sealed = envelope === undefined ? [] : sealedFields(definition, envelope.fields);
        const { data, metadata } = envelope === undefined ? message : await opened(app, message);
        const checked = await validated(definition, data, sealed);
        await app.mediator.publish(new definition(checked), {
          handler: handler.name,
          eventId: metadata.eventId,
          occurredAt: metadata.occurredAt,
          correlationId: metadata.correlationId,
          causationId: metadata.causationId,
          principal:
            options.trustPrincipal === true && metadata.principal !== undefined
              ? { subject: metadata.principal, roles: [] }
              : undefined,
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

/**
 * The fields a message's sealed part says it holds, when the event declares each of them personal; else a
 * TypeError. The list comes from the publisher, and is not covered by the key: a part sealed under a key no one
 * has (which anyone can write) reads as placeholders for every field it names, and those fields are not held to
 * the schema. Held to the declaration, it can blank only what an erasure would have blanked.
 */
function sealedFields(definition: AnyMessageDefinition, fields: unknown): readonly string[] {
  const invalid = (detail: string) =>
    new TypeError(`Invalid '${definition.type}' event from the bus: its sealed personal data ${detail}`);
  if (!Array.isArray(fields) || !fields.every((field) => typeof field === 'string')) {
    throw invalid('names no list of fields');
  }
  const declared = personalDataOf(definition.type)?.fields ?? [];
  const undeclared = fields.filter((field) => !declared.includes(field));
  if (undeclared.length > 0) {
    // Named as short as they came from outside: five at most, each cut to 60 characters.
    const names = undeclared
      .slice(0, 5)
      .map((field) => `'${field.slice(0, 60)}'`)
      .join(', ');
    throw invalid(`holds ${names}, which the event does not declare personal`);
  }
  return fields;
}

/**
 * The data as the event's schema gives it (its defaults and transforms applied), or a TypeError naming every field
 * that fails. Fields that arrived sealed are not held to it: the publisher's key vouches for them (they open only
 * with it, and only in an event of their subject), and once their subject is forgotten they hold placeholders,
 * which a schema for an e-mail or a phone would refuse; an erasure must not turn into a dead letter. (Then the
 * schema gives no output, so such an event reaches its handler as it came, without the schema's defaults.)
 */
async function validated(
  definition: AnyMessageDefinition,
  data: unknown,
  sealed: readonly string[],
): Promise<object> {
  const schema = definition.schema as StandardSchemaV1 | undefined;
  if (schema === undefined || schema['~standard'].vendor === 'myelin-unchecked') return data as object;
  const outcome = await schema['~standard'].validate(data);
  if (outcome.issues === undefined) return outcome.value as object;
  const issues = outcome.issues.filter((issue) => {
    const first = issue.path?.[0];
    if (first === undefined) return true;
    return !sealed.includes(String(typeof first === 'object' ? first.key : first));
  });
  if (issues.length === 0) return data as object;
  const errors = toFieldErrors(issues);
  const summary = errors.map((e) => (e.field === '' ? e.detail : `${e.field}: ${e.detail}`)).join('; ');
  throw new TypeError(`Invalid '${definition.type}' event from the bus: ${summary}`);
}
