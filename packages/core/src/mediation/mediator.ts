import { type Container, Scope } from '../dependencyInjection/container.ts';
import type { Dependencies } from '../dependencyInjection/token.ts';
import { type AnyEvent, type AnyMessageDefinition, definitionOf, type Request } from '../messages/message.ts';
import type { OperationResult } from '../results/operationResult.ts';
import type { EventBehaviorFunction, RequestBehaviorFunction } from './behavior.ts';
import type {
  EventMetadata,
  ExecuteOptions,
  ExecutionContext,
  Principal,
  PublishOptions,
} from './executionContext.ts';
import type { EventHandler, RequestHandler } from './handler.ts';

/**
 * Routes commands and queries to their one handler and events to all of theirs, each through its pipeline.
 * @example
 * const result = await app.mediator.execute(new PlaceOrder({ customerName: 'Mario', pizzas }));
 */
export interface Mediator {
  /** Runs the request's handler through its behaviors; the result type is the one the request declared. */
  execute<TResult>(request: Request<TResult>, options?: ExecuteOptions): Promise<OperationResult<TResult>>;
  /**
   * Delivers an event to every handler registered for it. Every handler runs even when one fails; failures are
   * then thrown together as an {@link EventHandlersFailedError} naming each failed handler.
   */
  publish(event: AnyEvent, options?: PublishOptions): Promise<void>;
}

/** One or more event handlers failed; the others still ran. */
export class EventHandlersFailedError extends AggregateError {
  readonly code = 'event_handlers_failed';
  readonly eventType: string;
  readonly failures: readonly { readonly handler: string; readonly error: unknown }[];

  constructor(eventType: string, failures: readonly { readonly handler: string; readonly error: unknown }[]) {
    super(
      failures.map((f) => f.error),
      `${failures.length} handler(s) of ${eventType} failed: ${failures
        .map((f) => `'${f.handler}' (${f.error instanceof Error ? f.error.message : String(f.error)})`)
        .join(', ')}`,
    );
    this.name = 'EventHandlersFailedError';
    this.eventType = eventType;
    this.failures = failures;
  }
}

/** A request was executed that the application has no handler for. */
export class UnhandledMessageError extends Error {
  readonly code = 'unhandled_message';
  readonly messageType: string;

  constructor(messageType: string) {
    super(`No handler is registered for '${messageType}'; register one with handle() before build()`);
    this.name = 'UnhandledMessageError';
    this.messageType = messageType;
  }
}

type Pipeline<TOutcome> = (message: any, context: Execution) => Promise<TOutcome>;

interface RequestRoute {
  readonly pipeline: Pipeline<OperationResult<unknown>>;
}

interface EventDelivery {
  readonly name: string;
  readonly pipeline: Pipeline<void>;
}

const neverAborted = new AbortController().signal;

function newId(): string {
  return (globalThis as unknown as { crypto: { randomUUID(): string } }).crypto.randomUUID();
}

/**
 * The context of one execution, and its DI scope. Ids are made on first use: most executions never read them,
 * and a UUID is the single most expensive thing an execution would otherwise do.
 */
class Execution extends Scope implements ExecutionContext {
  #messageId: string | undefined;
  #correlationId: string | undefined;
  readonly causationId: string | undefined;
  readonly principal: Principal | undefined;
  readonly signal: AbortSignal;
  readonly event: EventMetadata | undefined;

  readonly mediator: MediatorImpl;

  constructor(mediator: MediatorImpl, options: ExecuteOptions | undefined, event?: EventMetadata) {
    super(mediator.container, mediator.container.root);
    this.mediator = mediator;
    this.event = event;
    if (options === undefined) {
      this.causationId = undefined;
      this.principal = undefined;
      this.signal = neverAborted;
    } else {
      this.#messageId = options.messageId;
      this.#correlationId = options.correlationId;
      this.causationId = options.causationId;
      this.principal = options.principal;
      this.signal = options.signal ?? neverAborted;
    }
  }

  get messageId(): string {
    return (this.#messageId ??= newId());
  }

  /** A request that starts a conversation correlates to itself. */
  get correlationId(): string {
    return (this.#correlationId ??= this.messageId);
  }

  execute<TResult>(request: Request<TResult>, options?: ExecuteOptions): Promise<OperationResult<TResult>> {
    return this.mediator.execute(request, { ...this.#childOptions(), ...options });
  }

  publish(event: AnyEvent, options?: PublishOptions): Promise<void> {
    return this.mediator.publish(event, { ...this.#childOptions(), ...options });
  }

  eventMetadata(type: string, version: number, eventId?: string): EventMetadata {
    return {
      eventId: eventId ?? newId(),
      type,
      version,
      occurredAt: new Date(),
      correlationId: this.correlationId,
      causationId: this.messageId,
      principal: this.principal?.subject,
    };
  }

  #childOptions(): ExecuteOptions {
    return {
      principal: this.principal,
      correlationId: this.correlationId,
      causationId: this.messageId,
      signal: this.signal,
    };
  }
}

/** What the application builder hands the mediator once everything has been validated. */
export interface MediatorRoutes {
  readonly requests: ReadonlyMap<AnyMessageDefinition, RequestHandler<any>>;
  readonly events: ReadonlyMap<AnyMessageDefinition, readonly EventHandler<any>[]>;
  readonly requestBehaviors: (
    definition: AnyMessageDefinition,
  ) => readonly RequestBehaviorFunction<any, any>[];
  readonly eventBehaviors: (definition: AnyMessageDefinition) => readonly EventBehaviorFunction<any>[];
}

/** @internal Made by the application builder. */
export class MediatorImpl implements Mediator {
  readonly #requests = new Map<AnyMessageDefinition, RequestRoute>();
  readonly #events = new Map<AnyMessageDefinition, readonly EventDelivery[]>();

  readonly container: Container;

  constructor(container: Container, routes: MediatorRoutes) {
    this.container = container;
    // Every chain is composed here, once per message type, so an execution only walks closures.
    for (const [definition, handler] of routes.requests) {
      const terminal = this.#invoker(handler.handle, handler.dependencies);
      this.#requests.set(definition, { pipeline: compose(routes.requestBehaviors(definition), terminal) });
    }
    for (const [definition, handlers] of routes.events) {
      const behaviors = routes.eventBehaviors(definition);
      this.#events.set(
        definition,
        handlers.map((h) => ({
          name: h.name,
          pipeline: compose(behaviors, this.#invoker(h.handle, h.dependencies)),
        })),
      );
    }
  }

  execute<TResult>(request: Request<TResult>, options?: ExecuteOptions): Promise<OperationResult<TResult>> {
    // Errors are always rejections, never synchronous throws: callers only have to handle one path.
    try {
      const route =
        this.#requests.get((request as object).constructor as AnyMessageDefinition) ?? this.#route(request);
      options?.signal?.throwIfAborted();
      return this.#run(route, request, new Execution(this, options)) as Promise<OperationResult<TResult>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #run(route: RequestRoute, request: object, context: Execution): Promise<OperationResult<unknown>> {
    try {
      return await route.pipeline(request, context);
    } finally {
      if (context.hasDisposables) await context.dispose();
    }
  }

  async publish(event: AnyEvent, options?: PublishOptions): Promise<void> {
    const definition = definitionOf(event);
    if (definition === undefined || definition.kind !== 'event') {
      throw new TypeError(`publish() takes an event made from a definition declared with event()`);
    }
    options?.signal?.throwIfAborted();
    const deliveries = this.#events.get(definition) ?? this.#inherited(definition);
    if (deliveries.length === 0) return;
    const eventId = options?.eventId ?? newId();
    const metadata: EventMetadata = {
      eventId,
      type: definition.type,
      version: definition.options.version ?? 1,
      occurredAt: options?.occurredAt ?? new Date(),
      correlationId: options?.correlationId ?? eventId,
      causationId: options?.causationId,
      principal: options?.principal?.subject,
    };
    const contextOptions: ExecuteOptions = {
      messageId: metadata.eventId,
      correlationId: metadata.correlationId,
      causationId: metadata.causationId,
      principal: options?.principal,
      signal: options?.signal,
    };
    const failures: { handler: string; error: unknown }[] = [];
    const deliver = async (delivery: EventDelivery): Promise<void> => {
      const context = new Execution(this, contextOptions, metadata);
      try {
        await delivery.pipeline(event, context);
      } catch (error) {
        failures.push({ handler: delivery.name, error });
      } finally {
        if (context.hasDisposables) {
          await context.dispose().catch((error: unknown) => failures.push({ handler: delivery.name, error }));
        }
      }
    };
    if (options?.parallel === true) await Promise.all(deliveries.map(deliver));
    else for (const delivery of deliveries) await deliver(delivery);
    if (failures.length > 0) throw new EventHandlersFailedError(definition.type, failures);
  }

  #route(request: object): RequestRoute {
    const definition = typeof request === 'object' && request !== null ? definitionOf(request) : undefined;
    if (definition === undefined) {
      throw new TypeError(
        'execute() takes a command or query made from a definition (new PlaceOrder({...}))',
      );
    }
    if (definition.kind === 'event')
      throw new TypeError(`${definition.type} is an event: publish() it instead`);
    // A subclass of a declared message routes to its base's handler.
    for (
      let d = definition;
      typeof d === 'function' && d !== Function.prototype;
      d = Object.getPrototypeOf(d)
    ) {
      const route = this.#requests.get(d);
      if (route !== undefined) return route;
    }
    throw new UnhandledMessageError(definition.type);
  }

  #inherited(definition: AnyMessageDefinition): readonly EventDelivery[] {
    for (let d = Object.getPrototypeOf(definition); typeof d === 'function' && d !== Function.prototype; ) {
      const deliveries = this.#events.get(d);
      if (deliveries !== undefined) return deliveries;
      d = Object.getPrototypeOf(d);
    }
    return [];
  }

  /** Builds the call of a handler with its dependencies resolved from the execution's scope. */
  #invoker(
    handle: (message: any, dependencies: any, context: ExecutionContext) => unknown,
    dependencies: Dependencies,
  ): Pipeline<any> {
    const keys = Object.keys(dependencies);
    if (keys.length === 0) {
      const none = Object.freeze({});
      return (message, context) => promised(handle(message, none, context));
    }
    return (message, context) => promised(handle(message, context.resolveAll(dependencies), context));
  }
}

function promised<T>(value: T | Promise<T>): Promise<T> {
  return value instanceof Promise ? value : Promise.resolve(value);
}

function compose<TOutcome>(
  behaviors: readonly ((
    message: any,
    next: (message?: any) => Promise<TOutcome>,
    context: any,
  ) => Promise<TOutcome>)[],
  terminal: Pipeline<TOutcome>,
): Pipeline<TOutcome> {
  let pipeline = terminal;
  for (let i = behaviors.length - 1; i >= 0; i--) {
    const run = behaviors[i] as (typeof behaviors)[number];
    const inner = pipeline;
    pipeline = (message, context) => run(message, (next = message) => inner(next, context), context);
  }
  return pipeline;
}
