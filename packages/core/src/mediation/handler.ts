import type { Dependencies, Resolved } from '../dependencyInjection/token.ts';
import type {
  AnyMessageDefinition,
  EventDefinition,
  MessageDefinition,
  RequestDefinition,
} from '../messages/message.ts';
import type { OperationResult } from '../results/operationResult.ts';
import type { ExecutionContext } from './executionContext.ts';

type ResultOfDefinition<TDefinition> =
  TDefinition extends MessageDefinition<any, string, any, infer TResult> ? TResult : never;

/** The function a request handler runs. It may return its result directly or as a promise. */
export type HandleRequest<TDefinition extends RequestDefinition, TDependencies extends Dependencies> = (
  message: InstanceType<TDefinition>,
  dependencies: Resolved<TDependencies>,
  context: ExecutionContext,
) =>
  | Promise<OperationResult<ResultOfDefinition<TDefinition>>>
  | OperationResult<ResultOfDefinition<TDefinition>>;

/**
 * The function an event handler runs. A thrown error (or a rejected promise) is a failed delivery; what it returns
 * is awaited and otherwise ignored, so `(e, { views }) => views.set(...)` needs no braces.
 */
export type HandleEvent<TDefinition extends EventDefinition, TDependencies extends Dependencies> = (
  event: InstanceType<TDefinition>,
  dependencies: Resolved<TDependencies>,
  context: ExecutionContext,
) => unknown;

/** A command or query handler: the one place a request is answered. */
export interface RequestHandler<TDefinition extends RequestDefinition = RequestDefinition> {
  readonly kind: 'request';
  readonly message: TDefinition;
  readonly dependencies: Dependencies;
  readonly handle: HandleRequest<TDefinition, any>;
}

/** An event handler: one of any number of reactions to an event. Its name identifies it in errors and logs. */
export interface EventHandler<TDefinition extends EventDefinition = EventDefinition> {
  readonly kind: 'event';
  readonly name: string;
  /** Redeliveries of an event it handled have no effect: a durable relay records handled ids in an inbox. */
  readonly idempotent: boolean;
  /** Re-runs of a delivery whose commit met a concurrent change, before it fails (see EventHandlerOptions). */
  readonly retryOnConflict: number;
  /** How many partitions a durable relay splits its deliveries into, by stream (see EventHandlerOptions). */
  readonly partitions: number;
  readonly message: TDefinition;
  readonly dependencies: Dependencies;
  readonly handle: HandleEvent<TDefinition, any>;
}

export type AnyHandler = RequestHandler<any> | EventHandler<any>;

/**
 * Declares the handler of a command or query. Dependencies are tokens, resolved from the execution's scope and
 * passed as the second argument; the compiler checks the result against what the message declared.
 * @example
 * export const getOrder = handler(GetOrder, { orders: OrderSummaries }, async (query, { orders }) => {
 *   const order = await orders.get(query.id);
 *   return order ? ok(order) : notFound('Order', query.id);
 * });
 */
export function handler<
  TDefinition extends RequestDefinition,
  const TDependencies extends Dependencies = Record<never, never>,
>(
  message: TDefinition,
  dependencies: TDependencies,
  handle: HandleRequest<TDefinition, TDependencies>,
): RequestHandler<TDefinition>;
export function handler<TDefinition extends RequestDefinition>(
  message: TDefinition,
  handle: HandleRequest<TDefinition, Record<never, never>>,
): RequestHandler<TDefinition>;
export function handler(
  message: AnyMessageDefinition,
  dependenciesOrHandle: Dependencies | HandleRequest<any, any>,
  maybeHandle?: HandleRequest<any, any>,
): RequestHandler<any> {
  if (message.kind === 'event') {
    throw new TypeError(`${message.type} is an event: declare its handlers with eventHandler()`);
  }
  const [dependencies, handle] =
    typeof dependenciesOrHandle === 'function'
      ? [{}, dependenciesOrHandle]
      : [dependenciesOrHandle, maybeHandle];
  if (typeof handle !== 'function') throw new TypeError(`The handler of ${message.type} needs a function`);
  return { kind: 'request', message, dependencies, handle };
}

/** How an event handler is known: its name, and whether redeliveries must be deduplicated by event id. */
export interface EventHandlerOptions {
  readonly name: string;
  /**
   * Deduplicate by event id: a durable relay (at-least-once) records each handled event id in an inbox, in the
   * handler's own transaction, so a redelivery has no second effect. Off by default.
   */
  readonly idempotent?: boolean;
  /**
   * Re-run the handler, up to this many times, when its unit of work's commit meets a concurrent change (two
   * events for one aggregate at once), instead of failing the delivery. Safe only when everything the handler does
   * goes through the unit of work. Defaults to 0.
   */
  readonly retryOnConflict?: number;
  /**
   * Split a durable relay's deliveries to this handler into this many partitions, by a hash of the stream id (a
   * stream's events stay in order within their partition), each leased on its own, so that several processes
   * share the work. Changing it moves streams between partitions: do it with the handler's events delivered.
   * Defaults to 1; at most 64.
   */
  readonly partitions?: number;
}

/**
 * Declares a handler of an event. The name (a string, or `{ name, idempotent }`) must be unique among the event's
 * handlers; it names the handler when it fails, and durable delivery keys its progress on it.
 * @example
 * export const updateUserView = eventHandler('users.view', UserEmailUpdated, { users: UserViews },
 *   async (event, { users }) => { users.set(event.userId, { email: event.email }); });
 */
export function eventHandler<
  TDefinition extends EventDefinition,
  const TDependencies extends Dependencies = Record<never, never>,
>(
  name: string | EventHandlerOptions,
  message: TDefinition,
  dependencies: TDependencies,
  handle: HandleEvent<TDefinition, TDependencies>,
): EventHandler<TDefinition>;
export function eventHandler<TDefinition extends EventDefinition>(
  name: string | EventHandlerOptions,
  message: TDefinition,
  handle: HandleEvent<TDefinition, Record<never, never>>,
): EventHandler<TDefinition>;
export function eventHandler(
  nameOrOptions: string | EventHandlerOptions,
  message: AnyMessageDefinition,
  dependenciesOrHandle: Dependencies | HandleEvent<any, any>,
  maybeHandle?: HandleEvent<any, any>,
): EventHandler<any> {
  const {
    name,
    idempotent = false,
    retryOnConflict = 0,
    partitions = 1,
  } = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions;
  if (!Number.isInteger(retryOnConflict) || retryOnConflict < 0) {
    throw new TypeError(`retryOnConflict must be a non-negative integer, not ${retryOnConflict}`);
  }
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 64) {
    throw new TypeError(
      `The partitions of event handler '${name}' must be an integer from 1 to 64, not ${partitions}`,
    );
  }
  if (message.kind !== 'event') {
    throw new TypeError(`${message.type} is a ${message.kind}: declare its handler with handler()`);
  }
  const [dependencies, handle] =
    typeof dependenciesOrHandle === 'function'
      ? [{}, dependenciesOrHandle]
      : [dependenciesOrHandle, maybeHandle];
  if (typeof handle !== 'function') throw new TypeError(`The event handler '${name}' needs a function`);
  return { kind: 'event', name, idempotent, retryOnConflict, partitions, message, dependencies, handle };
}
