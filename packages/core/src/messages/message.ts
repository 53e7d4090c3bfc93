import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';
import { declarePersonalData, type PersonalDataDeclaration } from '../personalData/personalData.ts';

/** What a message asks for: a change (command), an answer (query), or tells what happened (event). */
export type MessageKind = 'command' | 'query' | 'event';

/** Compile-time only: ties a message instance to its kind, type name and result. Never present at run time. */
declare const messageBrand: unique symbol;

/** The type-level identity every message instance carries. */
export interface MessageBrand<TKind extends MessageKind, TType extends string, TResult> {
  readonly [messageBrand]: { readonly kind: TKind; readonly type: TType; readonly result: TResult };
}

/** An instance of a declared message: its payload's fields, read-only, plus its brand. */
export type Message<
  TKind extends MessageKind = MessageKind,
  TType extends string = string,
  TPayload = unknown,
  TResult = unknown,
> = Readonly<TPayload> & MessageBrand<TKind, TType, TResult>;

/** A command or query whose handler answers with `TResult`. */
export type Request<TResult = unknown> = MessageBrand<'command' | 'query', string, TResult>;
/** Any event instance. */
export type AnyEvent = MessageBrand<'event', string, void>;

/** The result type a request declares. */
export type ResultOf<TMessage> =
  TMessage extends MessageBrand<MessageKind, string, infer TResult> ? TResult : never;

/** Options given when a message is declared. */
export interface MessageOptions {
  /** Shown in generated documentation (OpenAPI). */
  readonly description?: string;
  /** The JSON Schema of the payload, for schema libraries that cannot produce one themselves. */
  readonly jsonSchema?: Readonly<Record<string, unknown>>;
}

/** Options for events beyond those of every message. */
export interface EventOptions extends MessageOptions {
  /** The version of the payload's shape, stored with each event so old shapes can be upcast. Defaults to 1. */
  readonly version?: number;
  /** True for events other services may consume (integration events); they leave the process on the bus. */
  readonly integration?: boolean;
  /**
   * Which fields are a person's, and the field naming whose: sealed with that person's key when appended, read
   * back in clear until they are forgotten, as placeholders after (see `PersonalData`).
   */
  readonly personal?: PersonalDataDeclaration;
}

/** JSON Schema targets Myelin asks schema libraries for. */
export type JsonSchemaTarget = 'draft-2020-12' | 'draft-07' | 'openapi-3.0';

/**
 * A declared message: a class whose instances are messages, plus what Myelin needs to route, validate,
 * serialize and document them. Made by {@link command}, {@link query} or {@link event}.
 */
export interface MessageDefinition<
  TKind extends MessageKind = MessageKind,
  TType extends string = string,
  TPayload = any,
  TResult = unknown,
  /** What a sender gives before the schema applies its defaults and transforms (the payload's input type). */
  TInput = TPayload,
> {
  new (payload: TPayload): Message<TKind, TType, TPayload, TResult>;
  readonly kind: TKind;
  /** The stable name used for routing, serialization and documentation. Unique within an application. */
  readonly type: TType;
  readonly schema: StandardSchemaV1<TInput, TPayload> | undefined;
  /** The schema of a successful result, when one was given to `returns`. */
  readonly resultSchema: StandardSchemaV1<unknown, TResult> | undefined;
  readonly options: EventOptions;
  /**
   * The payload's JSON Schema (the schema's input side), or undefined when neither the schema library nor the
   * declaration provides one.
   */
  jsonSchema(target?: JsonSchemaTarget): Record<string, unknown> | undefined;
}

/** Any declared message definition. */
export type AnyMessageDefinition = MessageDefinition<MessageKind, string, any, any>;
/** The definition of a command or query. */
export type RequestDefinition<TResult = any> = MessageDefinition<'command' | 'query', string, any, TResult>;
/** The definition of an event. */
export type EventDefinition<TPayload = any> = MessageDefinition<'event', string, TPayload, void>;

/** A command or query definition that has not yet said what it returns. */
export interface RequestDeclaration<
  TKind extends 'command' | 'query',
  TType extends string,
  TPayload,
  TInput = TPayload,
> extends MessageDefinition<TKind, TType, TPayload, void, TInput> {
  /** Declares the result type, and optionally its schema (for documentation and clients). */
  returns<TResult>(
    schema?: StandardSchemaV1<unknown, TResult>,
  ): MessageDefinition<TKind, TType, TPayload, TResult, TInput>;
}

/** The payload type a message definition carries. */
export type PayloadOf<TDefinition> =
  TDefinition extends MessageDefinition<MessageKind, string, infer TPayload, unknown, any> ? TPayload : never;

/** What a sender gives for a message: its payload before the schema's defaults (a field with one is optional). */
export type PayloadInputOf<TDefinition> =
  TDefinition extends MessageDefinition<MessageKind, string, any, any, infer TInput> ? TInput : never;

type PayloadOfSchema<TSchema> = TSchema extends StandardSchemaV1<unknown, infer TOutput> ? TOutput : never;
type InputOfSchema<TSchema> = TSchema extends StandardSchemaV1<infer TInput, unknown> ? TInput : never;

/**
 * A schema that only carries a type: no validation and no JSON Schema. For messages that never come from outside
 * the process (or whose input is checked elsewhere).
 * @example const Tick = command('Tick', unchecked<{ at: number }>());
 */
export function unchecked<TPayload>(): StandardSchemaV1<TPayload, TPayload> {
  return {
    '~standard': {
      version: 1,
      vendor: 'myelin-unchecked',
      validate: (value) => ({ value: value as TPayload }),
    },
  };
}

/**
 * Declares a command: an intention to change state, handled by exactly one handler.
 * @example
 * export const PlaceOrder = command('PlaceOrder', z.object({ customerName: z.string(), pizzas: z.array(Pizza) }))
 *   .returns<OrderDto>();
 * await mediator.execute(new PlaceOrder({ customerName: 'Mario', pizzas: [] })); // OperationResult<OrderDto>
 */
export function command<
  const TType extends string,
  TSchema extends StandardSchemaV1 = StandardSchemaV1<Record<never, never>>,
>(
  type: TType,
  schema?: TSchema,
  options?: MessageOptions,
): RequestDeclaration<'command', TType, PayloadOfSchema<TSchema>, InputOfSchema<TSchema>> {
  return declareMessage('command', type, schema, options) as never;
}

/**
 * Declares a query: a question about state, answered by exactly one handler and without side effects.
 * @example export const GetOrder = query('GetOrder', z.object({ id: z.string() })).returns<OrderDto>();
 */
export function query<
  const TType extends string,
  TSchema extends StandardSchemaV1 = StandardSchemaV1<Record<never, never>>,
>(
  type: TType,
  schema?: TSchema,
  options?: MessageOptions,
): RequestDeclaration<'query', TType, PayloadOfSchema<TSchema>, InputOfSchema<TSchema>> {
  return declareMessage('query', type, schema, options) as never;
}

/**
 * Declares an event: a fact that happened, delivered to every handler registered for it.
 * Its type name is its identity in the log forever; version it in the name (`order.placed.v1`) or in `options`.
 * @example export const OrderPlaced = event('order.placed.v1', z.object({ orderId: z.string() }));
 */
export function event<
  const TType extends string,
  TSchema extends StandardSchemaV1 = StandardSchemaV1<Record<never, never>>,
>(
  type: TType,
  schema?: TSchema,
  options?: EventOptions & { readonly personal?: PersonalDataDeclaration<PayloadOfSchema<TSchema>> },
): MessageDefinition<'event', TType, PayloadOfSchema<TSchema>, void, InputOfSchema<TSchema>> {
  return declareMessage('event', type, schema, options) as never;
}

/** True when `value` is an instance of a declared message. */
export function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && definitionOf(value as Message) !== undefined;
}

/** The definition an instance was made from, or undefined for plain objects. */
export function definitionOf(message: object): AnyMessageDefinition | undefined {
  // From the prototype, not the instance: a payload may carry a field named `constructor`.
  const ctor = (Object.getPrototypeOf(message) as { constructor?: unknown } | null)?.constructor as
    | Partial<AnyMessageDefinition>
    | undefined;
  return ctor !== undefined && typeof ctor.kind === 'string' && typeof ctor.type === 'string'
    ? (ctor as AnyMessageDefinition)
    : undefined;
}

/** The payload of a message as a plain object (what is serialized and validated). */
export function payloadOf(message: object): Record<string, unknown> {
  return { ...message };
}

const typeNamePattern = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

function declareMessage(
  kind: MessageKind,
  type: string,
  schema: StandardSchemaV1 | undefined,
  options: EventOptions = {},
): AnyMessageDefinition {
  if (!typeNamePattern.test(type)) {
    throw new TypeError(
      `Invalid ${kind} type name '${type}': use letters, digits, '.', '_', ':' or '-', starting with a letter`,
    );
  }
  if (options.personal !== undefined) {
    if (kind !== 'event') throw new TypeError(`Only events declare personal data, and ${type} is a ${kind}`);
    declarePersonalData(type, options.personal);
  }
  let resultSchema: StandardSchemaV1 | undefined;
  // A class, so that `new PlaceOrder({...})` reads naturally and users may extend it with methods.
  const Definition = class {
    constructor(payload?: object) {
      if (payload === undefined || payload === null) return;
      // A loop rather than Object.assign (≈ 29 ns of a dispatch's ≈ 190 in bench/), and it never copies a
      // `__proto__` key (JSON.parse makes one an own property), which Object.assign would set as the prototype.
      for (const key in payload) {
        if (key !== '__proto__' && Object.hasOwn(payload, key)) {
          (this as Record<string, unknown>)[key] = (payload as Record<string, unknown>)[key];
        }
      }
    }
    static readonly kind = kind;
    static readonly type = type;
    static readonly schema = schema;
    static readonly options = options;
    static get resultSchema() {
      return resultSchema;
    }
    static returns(schemaOfResult?: StandardSchemaV1) {
      resultSchema = schemaOfResult;
      return Definition;
    }
    static jsonSchema(target: JsonSchemaTarget = 'draft-2020-12') {
      if (options.jsonSchema !== undefined)
        return structuredClone(options.jsonSchema) as Record<string, unknown>;
      const converter = (schema as StandardJSONSchemaV1 | undefined)?.['~standard'].jsonSchema;
      return converter?.input({ target });
    }
  };
  Object.defineProperty(Definition, 'name', { value: type });
  return Definition as unknown as AnyMessageDefinition;
}
