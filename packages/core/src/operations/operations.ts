// What an operator sees and does while the system runs: the subscriptions of the log and how far behind they are,
// the dead letters, rebuilds, the story of one conversation, and the record of erasures of personal data. A port:
// the persistence implements it (`postgresPersistence` registers one), the console of `@myelin/http` serves it.
import { token } from '../dependencyInjection/token.ts';
import type { LogPosition } from '../log/logPosition.ts';
import type { Erasure } from '../personalData/personalData.ts';
import type { ProcessView } from '../processes/processInspection.ts';
import type { ProcessRecord } from '../processes/processInstance.ts';

/** What reads the log: a projection's version, an in-process event handler, the publisher of integration events. */
export type SubscriptionKind = 'projection' | 'handler' | 'publisher' | 'scheduler' | 'other';

/** A projection version's place in its life: built beside the one serving, serving, or replaced. */
export type ProjectionState = 'building' | 'serving' | 'retired';

export interface SubscriptionStatus {
  readonly name: string;
  readonly kind: SubscriptionKind;
  /** For a projection's subscription: which version, and its state. */
  readonly projection?:
    | {
        readonly name: string;
        readonly version: number;
        readonly mode: 'inline' | 'async';
        readonly state: ProjectionState;
      }
    | undefined;
  /** Where it has read to. */
  readonly position: LogPosition;
  /** Events of its types after its position, and how long ago the oldest of them occurred (0 when none). */
  readonly lagEvents: number;
  readonly lagMs: number;
  /** While building, the share of its events handled, from 0 to 1. */
  readonly progress?: number | undefined;
  /** Events handled since it was created: its throughput is the rate this grows at. */
  readonly handled: number;
  /** The process holding its lease (`host/pid`), or undefined when no process runs it now. */
  readonly holder: string | undefined;
  /** Events waiting for a retry, and the dead letters (parked after their last attempt). */
  readonly retrying: number;
  readonly parked: number;
}

/** What an operator did through the console. */
export interface OperatorAction {
  readonly at: Date;
  /** The subject of the principal who did it. */
  readonly actor: string;
  readonly action: 'replay' | 'discard' | 'rebuild';
  readonly subscription?: string | undefined;
  readonly eventId?: string | undefined;
  readonly projection?: string | undefined;
  /** How many events (or projections) it reached. */
  readonly affected: number;
}

export interface SystemStatus {
  readonly at: Date;
  /** The log's last position. */
  readonly head: LogPosition;
  readonly subscriptions: readonly SubscriptionStatus[];
  /** The most recent actions, newest first. */
  readonly actions: readonly OperatorAction[];
  /** The id of the latest erasure recorded, if any: a list of {@link Operations.erasures} is stale once it changes. */
  readonly lastErasure: string | undefined;
}

/** An event a subscription parked after its last attempt. */
export interface DeadLetter {
  readonly subscription: string;
  readonly eventId: string;
  readonly streamId: string;
  readonly type: string;
  readonly data: unknown;
  readonly occurredAt: Date;
  readonly correlationId: string;
  readonly attempts: number;
  /** The last failure's message. */
  readonly error: string;
  readonly parkedAt: Date;
  /** Later events of the same stream held behind it, so that the stream's order holds. */
  readonly waiting: number;
}

/** One dead letter: the subscription that parked it and the event's id. */
export interface DeadLetterRef {
  readonly subscription: string;
  readonly eventId: string;
}

export type RebuildOutcome = 'started' | 'not-found' | 'already-building';

/** What became of an event for one subscription. */
export interface StoryDelivery {
  readonly subscription: string;
  readonly kind: SubscriptionKind;
  readonly state: 'done' | 'pending' | 'retrying' | 'parked' | 'waiting' | 'discarded';
  /** When it was handled, where that is recorded (an idempotent handler's inbox). */
  readonly at?: Date | undefined;
  readonly attempts?: number | undefined;
  readonly error?: string | undefined;
}

export interface StoryEvent {
  readonly eventId: string;
  readonly type: string;
  readonly streamId: string;
  readonly occurredAt: Date;
  readonly position: LogPosition;
  readonly deliveries: readonly StoryDelivery[];
}

/** The message that caused some of a story's events, and those events. */
export interface StoryCause {
  /** The message's id and type, when recorded. */
  readonly id: string | undefined;
  readonly type: string | undefined;
  /** An event of the story (its handler raised these), or a request (a command) from outside. */
  readonly kind: 'command' | 'event';
  readonly events: readonly StoryEvent[];
}

/** Everything that happened under one correlation id, in log order. */
export interface Story {
  readonly correlationId: string;
  readonly causes: readonly StoryCause[];
  /** Deliveries recorded for events of other stores (an integration event received from another service). */
  readonly received: readonly (StoryDelivery & { readonly eventId: string })[];
}

/**
 * The operator's view of a running system, and the actions the console offers. Every action is recorded with its
 * actor.
 */
export interface Operations {
  status(): Promise<SystemStatus>;
  /** The dead letters, oldest first (at most `limit`, 100 by default). */
  deadLetters(options?: { readonly limit?: number }): Promise<readonly DeadLetter[]>;
  /** Delivers one dead letter again, or all: how many were replayed. */
  replay(target: DeadLetterRef | 'all', actor: string): Promise<number>;
  /** Gives one dead letter up, or all (the events behind them go on): how many were discarded. */
  discard(target: DeadLetterRef | 'all', actor: string): Promise<number>;
  /**
   * Builds the read model of the projection version serving again from the start of the log, in place: it is
   * emptied and fills up again as its runner catches up (its state is building until then).
   */
  rebuild(projection: string, actor: string): Promise<RebuildOutcome>;
  /**
   * The erasures of personal data (`PersonalData.forget`), newest first (at most `limit`, 100 by default): who
   * asked, when, why, whose data, and what was reached. Their record holds none of the erased data.
   */
  erasures(options?: { readonly limit?: number }): Promise<readonly Erasure[]>;
  /** Everything that happened under a correlation id (at most 500 events). */
  story(correlationId: string): Promise<Story>;
  /**
   * Process manager instances, most recently changed first: running ones unless `status` says otherwise, of one
   * process manager when `process` names it (at most `limit`, 100 by default), with their pending timeouts.
   */
  processes(options?: {
    readonly process?: string;
    readonly status?: ProcessRecord['status'];
    readonly limit?: number;
  }): Promise<readonly ProcessView[]>;
}

/** The system's {@link Operations}, registered by the persistence. */
export const Operations = token<Operations>('Operations');
