import type { Dependencies, Resolved } from '../dependencyInjection/token.ts';
import type {
  AnyEvent,
  AnyMessageDefinition,
  EventDefinition,
  Message,
  MessageDefinition,
  RequestDefinition,
} from '../messages/message.ts';
import type { OperationResult } from '../results/operationResult.ts';
import type { ExecutionContext } from './executionContext.ts';

/**
 * Calls the rest of the pipeline. A behavior may pass a replacement message (validation passes the parsed one);
 * otherwise the message it received goes on.
 */
export type Next<TMessage, TOutcome> = (message?: TMessage) => Promise<TOutcome>;

/** Middleware around the handler of a command or query. Return without calling `next` to short-circuit. */
export type RequestBehaviorFunction<
  TMessage = Message,
  TResult = unknown,
  TDependencies extends Dependencies = Dependencies,
> = (
  message: TMessage,
  next: Next<TMessage, OperationResult<TResult>>,
  context: ExecutionContext,
  dependencies: Resolved<TDependencies>,
) => Promise<OperationResult<TResult>>;

/** Middleware around each event handler's delivery. */
export type EventBehaviorFunction<TEvent = AnyEvent, TDependencies extends Dependencies = Dependencies> = (
  event: TEvent,
  next: Next<TEvent, void>,
  context: ExecutionContext,
  dependencies: Resolved<TDependencies>,
) => Promise<void>;

/**
 * Which messages a behavior wraps: all commands, all queries, both (`requests`), all events, one message type,
 * or the requests (or, with `{ events }`, the events) whose definition a predicate accepts. Scopes are evaluated
 * when the application is built, so each message type's chain is composed once.
 */
export type BehaviorScope =
  | 'commands'
  | 'queries'
  | 'requests'
  | 'events'
  | AnyMessageDefinition
  | ((definition: RequestDefinition) => boolean)
  | { readonly events: (definition: EventDefinition) => boolean };

export interface BehaviorOptions<
  TScope extends BehaviorScope = BehaviorScope,
  TDependencies extends Dependencies = Dependencies,
> {
  /** Names the behavior in errors and logs. */
  readonly name: string;
  /** Lower runs first (further out). Built-ins use {@link BehaviorOrder}; equal orders keep registration order. */
  readonly order: number;
  readonly scope: TScope;
  /**
   * Services the behavior uses, resolved from the execution's scope and passed as its fourth argument. Declared,
   * like a handler's, so the application checks them when it is built and knows which executions need a scope.
   */
  readonly dependencies?: TDependencies;
}

/** A registered pipeline behavior. Make one with {@link behavior}. */
export interface Behavior {
  readonly name: string;
  readonly order: number;
  readonly target: 'request' | 'event';
  readonly appliesTo: (definition: AnyMessageDefinition) => boolean;
  readonly dependencies: Dependencies;
  readonly run: RequestBehaviorFunction<any, any, any> | EventBehaviorFunction<any, any>;
}

/** Where the built-in behaviors sit. Leave gaps so yours can go between. */
export const BehaviorOrder = {
  /** Outermost, so that the span holds everything, the log lines included (they then carry its ids). */
  tracing: 50,
  logging: 100,
  authentication: 150,
  validation: 200,
  authorization: 300,
  caching: 400,
  unitOfWork: 500,
} as const;

type ResultOfDefinition<TDefinition> =
  TDefinition extends MessageDefinition<any, string, any, infer TResult> ? TResult : never;

/**
 * Declares a pipeline behavior: typed middleware `(message, next, context)`.
 * @example
 * const timing = behavior({ name: 'timing', order: 50, scope: 'commands' }, async (message, next) => {
 *   const started = performance.now();
 *   try { return await next(); } finally { metrics.record(performance.now() - started); }
 * });
 */
export function behavior<
  TDefinition extends RequestDefinition,
  const TDependencies extends Dependencies = Record<never, never>,
>(
  options: BehaviorOptions<TDefinition, TDependencies>,
  run: RequestBehaviorFunction<InstanceType<TDefinition>, ResultOfDefinition<TDefinition>, TDependencies>,
): Behavior;
export function behavior<
  TDefinition extends EventDefinition,
  const TDependencies extends Dependencies = Record<never, never>,
>(
  options: BehaviorOptions<TDefinition, TDependencies>,
  run: EventBehaviorFunction<InstanceType<TDefinition>, TDependencies>,
): Behavior;
export function behavior<const TDependencies extends Dependencies = Record<never, never>>(
  options: BehaviorOptions<
    'events' | { readonly events: (definition: EventDefinition) => boolean },
    TDependencies
  >,
  run: EventBehaviorFunction<AnyEvent, TDependencies>,
): Behavior;
export function behavior<const TDependencies extends Dependencies = Record<never, never>>(
  options: BehaviorOptions<
    'commands' | 'queries' | 'requests' | ((definition: RequestDefinition) => boolean),
    TDependencies
  >,
  run: RequestBehaviorFunction<Message, unknown, TDependencies>,
): Behavior;
export function behavior(
  options: BehaviorOptions,
  run: RequestBehaviorFunction<any, any> | EventBehaviorFunction<any>,
): Behavior {
  if (!Number.isFinite(options.order)) throw new TypeError(`Behavior '${options.name}' needs a finite order`);
  const { target, appliesTo } = compileScope(options.scope);
  return {
    name: options.name,
    order: options.order,
    target,
    appliesTo,
    dependencies: options.dependencies ?? {},
    run,
  };
}

function compileScope(scope: BehaviorScope): Pick<Behavior, 'target' | 'appliesTo'> {
  switch (scope) {
    case 'commands':
      return { target: 'request', appliesTo: (d) => d.kind === 'command' };
    case 'queries':
      return { target: 'request', appliesTo: (d) => d.kind === 'query' };
    case 'requests':
      return { target: 'request', appliesTo: (d) => d.kind !== 'event' };
    case 'events':
      return { target: 'event', appliesTo: (d) => d.kind === 'event' };
  }
  if (typeof scope === 'object') {
    const accepts = scope.events;
    return { target: 'event', appliesTo: (d) => d.kind === 'event' && accepts(d as EventDefinition) };
  }
  if (isDefinition(scope)) {
    return { target: scope.kind === 'event' ? 'event' : 'request', appliesTo: (d) => d === scope };
  }
  const accepts = scope;
  return { target: 'request', appliesTo: (d) => d.kind !== 'event' && accepts(d as RequestDefinition) };
}

function isDefinition(value: unknown): value is AnyMessageDefinition {
  const candidate = value as Partial<AnyMessageDefinition>;
  return typeof candidate.kind === 'string' && typeof candidate.type === 'string';
}
