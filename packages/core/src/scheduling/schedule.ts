// Messages for later: a handler schedules a command or an event inside its unit of work, so the schedule exists if
// and only if the handler's changes committed; a scheduler delivers it when it comes due.
import { token } from '../dependencyInjection/token.ts';
import type { ExecutionContext, Principal } from '../mediation/executionContext.ts';
import { newId } from '../mediation/ids.ts';
import { type AnyEvent, definitionOf, payloadOf, type Request } from '../messages/message.ts';
import { activeTraceContext } from '../observability/traceContext.ts';
import { personalDataOf } from '../personalData/personalData.ts';
import type { Typed } from '../personalData/personalDataCipher.ts';
import type { Clock } from './clock.ts';

/** When a message is due: at a time, or after a delay in milliseconds (of the application's clock). */
export type When = { readonly at: Date } | { readonly after: number };

export interface ScheduleOptions {
  /** The scheduled message's id, to cancel it by (scheduling an id again replaces it); a new id when absent. */
  readonly id?: string;
  /** For an event: the stream it is written to when due; `scheduled-<id>` when absent. */
  readonly streamId?: string;
}

/**
 * Schedules messages in the current unit of work (persistence registers it, scoped): written with the handler's
 * changes when they commit, dropped when they do not.
 * @example handler(PlaceOrder, { orders: Orders, schedule: Schedule }, async (c, { orders, schedule }) => {
 *   ...; schedule.send(new CheckKitchen({ orderId }), { after: 10 * 60_000 }, { id: `kitchen:${orderId}` });
 * })
 */
export interface Schedule {
  /** Schedules a command (executed when due) or an event (written to the log when due); returns its id. */
  send(message: Request<unknown> | AnyEvent, when: When, options?: ScheduleOptions): string;
  /** Cancels a scheduled message by id, when this unit of work commits (nothing happens if it was delivered). */
  cancel(id: string): void;
}

export const Schedule = token<Schedule>('Schedule');

/** A scheduled message as stored. */
export interface ScheduledMessage {
  /** The schedule's id: cancelling or scheduling again by it reaches this message. */
  readonly id: string;
  /**
   * The message's own id, new each time it is scheduled: the command's message id, or the event's id, when it is
   * delivered (so that an id scheduled again after a delivery is a new message to every inbox).
   */
  readonly messageId: string;
  readonly kind: 'command' | 'event';
  readonly type: string;
  /** The event's version (1 for commands). */
  readonly version: number;
  /**
   * The command's or event's payload; an event's personal fields sealed, as in the log (it is written there as it
   * is, and reads with placeholders if its subject is forgotten before it is due).
   */
  readonly payload: unknown;
  readonly dueAt: Date;
  /** For an event: the stream it is written to. */
  readonly streamId: string | undefined;
  readonly correlationId: string;
  /** The message whose handler scheduled it. */
  readonly causationId: string | undefined;
  /** Who scheduled it: a command runs as them (subject and roles; never their claims). */
  readonly principal: Pick<Principal, 'subject' | 'roles'> | undefined;
  /** Failed deliveries so far. */
  readonly attempts: number;
  /** Scheduled, or parked after its last attempt failed (with the error). */
  readonly status: 'scheduled' | 'parked';
  readonly error: string | undefined;
  /**
   * The trace of the execution that scheduled it (W3C Trace Context), when one was active: the event written when
   * due carries it, and the command delivered then continues it.
   */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** What a unit of work records for a schedule: messages to store (replacing any of the same id), ids to drop. */
export type ScheduleChange =
  | { readonly kind: 'store'; readonly message: ScheduledMessage }
  | { readonly kind: 'cancel'; readonly id: string };

/**
 * The {@link Schedule} of one execution, over a function that records each change in the unit of work.
 * @internal Persistence adapters make one.
 */
export function scheduleOf(
  context: ExecutionContext,
  clock: Clock,
  record: (change: ScheduleChange) => void,
): Schedule {
  return {
    send(message, when, options = {}) {
      const definition = definitionOf(message);
      if (definition === undefined || definition.kind === 'query') {
        throw new TypeError('schedule.send() takes a command or an event made from a definition');
      }
      const dueAt = 'at' in when ? new Date(when.at) : new Date(clock.now().getTime() + when.after);
      if (Number.isNaN(dueAt.getTime())) throw new RangeError('schedule.send(): the due time is not a date');
      // Years past 9999 are dates to JavaScript, but not in ISO 8601's basic form, which databases take.
      if (dueAt.getUTCFullYear() > 9999 || dueAt.getUTCFullYear() < 1) {
        throw new RangeError(`schedule.send(): the due time must fall in the years 1 to 9999 (UTC)`);
      }
      const id = options.id ?? newId();
      const kind = definition.kind === 'event' ? 'event' : 'command';
      const principal = context.principal;
      record({
        kind: 'store',
        message: {
          id,
          messageId: newId(),
          kind,
          type: definition.type,
          version: kind === 'event' ? ((definition.options as { version?: number }).version ?? 1) : 1,
          payload: payloadOf(message),
          dueAt,
          streamId: kind === 'event' ? (options.streamId ?? `scheduled-${id}`) : undefined,
          correlationId: context.correlationId,
          causationId: context.messageId,
          principal:
            principal === undefined ? undefined : { subject: principal.subject, roles: [...principal.roles] },
          attempts: 0,
          status: 'scheduled',
          error: undefined,
          ...activeTraceContext(),
        },
      });
      return id;
    },
    cancel(id) {
      record({ kind: 'cancel', id });
    },
  };
}

/**
 * The changes with the personal fields of the events they schedule sealed by `seal` (the unit of work's, which
 * seals the events it appends): a message waits in the schedule until it is due, and must not hold in clear what
 * the log may not. When due, the event is written to the log as it is. Other changes are answered as they are.
 * @internal Persistence adapters call it as they commit.
 */
export async function sealScheduled(
  changes: readonly ScheduleChange[],
  seal: (events: readonly Typed[]) => Promise<readonly Typed[]>,
): Promise<readonly ScheduleChange[]> {
  const personal = changes.filter(
    (change) =>
      change.kind === 'store' &&
      change.message.kind === 'event' &&
      personalDataOf(change.message.type) !== undefined,
  ) as (ScheduleChange & { kind: 'store' })[];
  if (personal.length === 0) return changes;
  const sealed = await seal(
    personal.map(({ message }) => ({ data: message.payload, metadata: { type: message.type } })),
  );
  const payloads = new Map(personal.map((change, i) => [change, sealed[i]?.data]));
  return changes.map((change) =>
    change.kind === 'store' && payloads.has(change)
      ? { kind: 'store', message: { ...change.message, payload: payloads.get(change) } }
      : change,
  );
}

/**
 * A scheduled command's unit of work found the message gone when it committed: another delivery took effect first
 * (or it was cancelled). The command's changes were rolled back; the scheduler has nothing left to do.
 */
export class ScheduledMessageGoneError extends Error {
  constructor(id: string) {
    super(`The scheduled message '${id}' was delivered or cancelled meanwhile`);
    this.name = 'ScheduledMessageGoneError';
  }
}
