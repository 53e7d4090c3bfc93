import { token } from '../dependencyInjection/token.ts';
import type { LogPosition } from '../log/logPosition.ts';
import type { AnyEvent, Request } from '../messages/message.ts';
import type { OperationResult } from '../results/operationResult.ts';

/** Who is asking: the authenticated subject and what they may do. */
export interface Principal {
  /** The subject's stable id (a JWT's `sub`). */
  readonly subject: string;
  readonly roles: readonly string[];
  /** Other claims, as the identity provider gave them. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** What a caller may say about an execution; anything left out gets a sensible default. */
export interface ExecuteOptions {
  readonly principal?: Principal | undefined;
  /** Ties together everything one original request caused; a new id when absent. */
  readonly correlationId?: string | undefined;
  /** The id of the message that caused this one. */
  readonly causationId?: string | undefined;
  /** This message's own id; a new id when absent. */
  readonly messageId?: string | undefined;
  /** Cancels the work (a client that went away, a shutdown). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Read your writes: a query sees at least the writes up to this log position (a command's `result.position`).
   * Read models that are behind wait for it, bounded; without it, queries read what is there.
   */
  readonly minPosition?: LogPosition | undefined;
  /**
   * The id of the scheduled message this execution delivers (a scheduler sets it, with `messageId` the message's
   * own id): the unit of work removes the message in the transaction that commits the command's effects, so that
   * it takes effect once.
   */
  readonly scheduled?: string | undefined;
}

/** What a publisher may say about an event beyond the execution options. */
export interface PublishOptions extends ExecuteOptions {
  /** The event's id; a new id when absent. Relays pass the stored id so redeliveries keep it. */
  readonly eventId?: string | undefined;
  readonly occurredAt?: Date | undefined;
  /** Run the handlers concurrently instead of one after the other. */
  readonly parallel?: boolean | undefined;
  /** Deliver to this one handler (by name) only: a durable relay delivers to each handler on its own. */
  readonly handler?: string | undefined;
  /**
   * The trace of whatever wrote the event (W3C `traceparent` and `tracestate`): a relay passes the stored ones, so
   * that its handlers' spans continue the trace of the command that wrote the event. Defaults to the active span.
   */
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

/** Which handler an event is being delivered to. */
export interface Delivery {
  readonly handler: string;
  /** The handler deduplicates by event id (see `eventHandler`'s `idempotent`). */
  readonly idempotent: boolean;
  /** Re-runs on a conflict at commit (see `eventHandler`'s `retryOnConflict`). */
  readonly retryOnConflict?: number;
}

/** The metadata every event carries through the system. */
export interface EventMetadata {
  readonly eventId: string;
  readonly type: string;
  readonly version: number;
  readonly occurredAt: Date;
  readonly correlationId: string;
  readonly causationId: string | undefined;
  /** The type of that message (the command, or the event whose handler raised this one): for an event's story. */
  readonly causationType?: string | undefined;
  /** The subject of the principal whose request raised the event. */
  readonly principal: string | undefined;
  /**
   * The trace of the work that raised the event (W3C Trace Context), when a span was active: stored with the event,
   * so that what handles it later, in any process, continues that trace.
   */
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

/**
 * Everything a handler or behavior knows about the execution it runs in. One context (and one DI scope) exists
 * per `execute` and per event handler delivery.
 */
export interface ExecutionContext {
  /** The id of the message being handled (for events, the event's id). */
  readonly messageId: string;
  readonly correlationId: string;
  readonly causationId: string | undefined;
  readonly principal: Principal | undefined;
  readonly signal: AbortSignal;
  /** The log position a query must see at least (see {@link ExecuteOptions.minPosition}). */
  readonly minPosition: LogPosition | undefined;
  /** The scheduled message this execution delivers (see {@link ExecuteOptions.scheduled}). */
  readonly scheduled: string | undefined;
  /** Present while an event handler runs: the event's metadata. */
  readonly event: EventMetadata | undefined;
  /** Present while an event handler runs: which handler it is. */
  readonly delivery: Delivery | undefined;
  /** Executes another request as part of this one: same correlation and principal, caused by this message. */
  execute<TResult>(request: Request<TResult>, options?: ExecuteOptions): Promise<OperationResult<TResult>>;
  /** Publishes an event in process, caused by this message. Events of aggregates go through the unit of work. */
  publish(event: AnyEvent, options?: PublishOptions): Promise<void>;
  /** Metadata for an event raised while handling this message (used by repositories and the unit of work). */
  eventMetadata(type: string, version: number, eventId?: string): EventMetadata;
}

/** The token of the current execution's context, for services that need it (a repository reading the principal). */
export const ExecutionContext = token<ExecutionContext>('ExecutionContext');
