import { type Container, Scope } from '../dependencyInjection/container.ts';
import type { Dependencies, Resolved } from '../dependencyInjection/token.ts';
import type { LogPosition } from '../log/logPosition.ts';
import { type AnyEvent, type AnyMessageDefinition, definitionOf, type Request } from '../messages/message.ts';
import { activeTraceContext } from '../observability/traceContext.ts';
import type { OperationResult } from '../results/operationResult.ts';
import type { Behavior } from './behavior.ts';
import type {
  Delivery,
  EventMetadata,
  ExecuteOptions,
  ExecutionContext,
  Principal,
  PublishOptions,
} from './executionContext.ts';
import type { EventHandler, RequestHandler } from './handler.ts';
import { newId } from './ids.ts';

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
  readonly type: string;
  readonly pipeline: Pipeline<OperationResult<unknown>>;
  /** True when something in the chain depends on a scoped or transient service, so the scope must be disposed. */
  readonly scoped: boolean;
}

interface EventDelivery extends Delivery {
  readonly pipeline: Pipeline<void>;
}

const neverAborted = new AbortController().signal;

const noOptions: ExecuteOptions = Object.freeze({});
/** What a handler or behavior without dependencies receives as its dependencies. */
const noDependencies = Object.freeze({});

/**
 * The context of one execution. It stays small because every `execute` makes one: ids are made on first use
 * (a UUID would otherwise be the most expensive thing an execution does), and the DI scope only when a
 * scoped or transient dependency is resolved.
 */
class Execution implements ExecutionContext {
  #messageId: string | undefined;
  #correlationId: string | undefined;
  #scope: Scope | undefined;
  readonly mediator: MediatorImpl;
  readonly options: ExecuteOptions;
  readonly event: EventMetadata | undefined;
  readonly delivery: Delivery | undefined;
  /** The type of the message handled: a command's or query's, or the event's. */
  readonly #type: string | undefined;

  constructor(
    mediator: MediatorImpl,
    options: ExecuteOptions | undefined,
    event?: EventMetadata,
    delivery?: Delivery,
    type?: string,
  ) {
    this.mediator = mediator;
    this.options = options ?? noOptions;
    this.event = event;
    this.delivery = delivery;
    this.#type = type ?? event?.type;
    this.#messageId = this.options.messageId;
    this.#correlationId = this.options.correlationId;
  }

  get messageId(): string {
    return (this.#messageId ??= newId());
  }

  /** A request that starts a conversation correlates to itself. */
  get correlationId(): string {
    return (this.#correlationId ??= this.messageId);
  }

  get causationId(): string | undefined {
    return this.options.causationId;
  }

  get principal(): Principal | undefined {
    return this.options.principal;
  }

  get signal(): AbortSignal {
    return this.options.signal ?? neverAborted;
  }

  get minPosition(): LogPosition | undefined {
    return this.options.minPosition;
  }

  get scheduled(): string | undefined {
    return this.options.scheduled;
  }

  resolveAll<TDependencies extends Dependencies>(dependencies: TDependencies): Resolved<TDependencies> {
    this.#scope ??= new Scope(this.mediator.container, this.mediator.container.root, this);
    return this.#scope.resolveAll(dependencies);
  }

  get hasDisposables(): boolean {
    return this.#scope?.hasDisposables ?? false;
  }

  async dispose(): Promise<void> {
    await this.#scope?.dispose();
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
      causationType: this.#type,
      principal: this.principal?.subject,
      // Stored with the event, so that whatever handles it, whenever and wherever, continues this trace.
      ...activeTraceContext(),
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
  readonly requestBehaviors: (definition: AnyMessageDefinition) => readonly Behavior[];
  readonly eventBehaviors: (definition: AnyMessageDefinition) => readonly Behavior[];
}

/** @internal Made by the application builder. */
export class MediatorImpl implements Mediator {
  readonly #requests = new Map<AnyMessageDefinition, RequestRoute>();
  readonly #events = new Map<AnyMessageDefinition, readonly EventDelivery[]>();
  readonly #handlerDeliveries = new Map<AnyMessageDefinition, Map<string, readonly EventDelivery[]>>();

  readonly container: Container;

  constructor(container: Container, routes: MediatorRoutes) {
    this.container = container;
    // Every chain is composed here, once per message type, so an execution only walks closures.
    for (const [definition, handler] of routes.requests) {
      const behaviors = routes.requestBehaviors(definition);
      this.#requests.set(definition, {
        type: definition.type,
        pipeline: this.#compose(behaviors, this.#invoker(handler.handle, handler.dependencies)),
        scoped: [handler, ...behaviors].some((d) => container.needsScope(d.dependencies)),
      });
    }
    for (const [definition, handlers] of routes.events) {
      const behaviors = routes.eventBehaviors(definition);
      this.#events.set(
        definition,
        handlers.map((h) => ({
          handler: h.name,
          idempotent: h.idempotent,
          retryOnConflict: h.retryOnConflict,
          pipeline: this.#compose(behaviors, this.#invoker(h.handle, h.dependencies)),
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
      const context = new Execution(this, options, undefined, undefined, route.type);
      // Dependencies are declared, so whether an execution can create anything to dispose is known per route:
      // the common case pays for no extra async frame.
      return (
        route.scoped ? this.#run(route, request, context) : route.pipeline(request, context)
      ) as Promise<OperationResult<TResult>>;
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
    const all = this.#events.get(definition) ?? this.#inherited(definition);
    const deliveries =
      options?.handler === undefined ? all : this.#toHandler(definition, all, options.handler);
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
      ...(options?.traceparent === undefined
        ? activeTraceContext()
        : {
            traceparent: options.traceparent,
            ...(options.tracestate === undefined ? {} : { tracestate: options.tracestate }),
          }),
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
      const context = new Execution(this, contextOptions, metadata, delivery);
      try {
        await delivery.pipeline(event, context);
      } catch (error) {
        failures.push({ handler: delivery.handler, error });
      } finally {
        if (context.hasDisposables) {
          await context
            .dispose()
            .catch((error: unknown) => failures.push({ handler: delivery.handler, error }));
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

  /**
   * The deliveries of an event to one named handler (a relay's or a bus consumer's), found once per event type
   * and handler rather than filtered at every delivery.
   */
  #toHandler(
    definition: AnyMessageDefinition,
    all: readonly EventDelivery[],
    handler: string,
  ): readonly EventDelivery[] {
    let byHandler = this.#handlerDeliveries.get(definition);
    if (byHandler === undefined) {
      byHandler = new Map();
      this.#handlerDeliveries.set(definition, byHandler);
    }
    let deliveries = byHandler.get(handler);
    if (deliveries === undefined) {
      deliveries = all.filter((delivery) => delivery.handler === handler);
      if (deliveries.length === 0)
        throw new TypeError(`${definition.type} has no handler named '${handler}'`);
      byHandler.set(handler, deliveries);
    }
    return deliveries;
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
    if (Object.keys(dependencies).length === 0) {
      return (message, context) => promised(handle(message, noDependencies, context));
    }
    if (!this.container.needsScope(dependencies)) {
      // Only singletons: resolve them once, on first use (they all exist once the application is built).
      let resolved: unknown;
      return (message, context) =>
        promised(handle(message, (resolved ??= context.resolveAll(dependencies)), context));
    }
    return (message, context) => promised(handle(message, context.resolveAll(dependencies), context));
  }

  /** Wraps a terminal in its behaviors, outermost first. Runs once per message type, when the app is built. */
  #compose<TOutcome>(behaviors: readonly Behavior[], terminal: Pipeline<TOutcome>): Pipeline<TOutcome> {
    let pipeline = terminal;
    for (let i = behaviors.length - 1; i >= 0; i--) {
      const { run, dependencies } = behaviors[i] as Behavior;
      const call = run as unknown as (
        message: any,
        next: (message?: any) => Promise<TOutcome>,
        context: any,
        deps: any,
      ) => Promise<TOutcome>;
      const inner = pipeline;
      pipeline =
        Object.keys(dependencies).length === 0
          ? (message, context) =>
              call(message, (next = message) => inner(next, context), context, noDependencies)
          : (message, context) =>
              call(
                message,
                (next = message) => inner(next, context),
                context,
                context.resolveAll(dependencies),
              );
    }
    return pipeline;
  }
}

function promised<T>(value: T | Promise<T>): Promise<T> {
  return value instanceof Promise ? value : Promise.resolve(value);
}
