// Process managers: memory across messages. An instance per correlation (an order's id) keeps a state, reacts to
// events and to its own timeouts, sends commands and schedules timeouts; all of it commits in one unit of work.
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Module } from '../application/application.ts';
import { eventHandler } from '../mediation/handler.ts';
import {
  type AnyEvent,
  definitionOf,
  type EventDefinition,
  payloadOf,
  type RequestDefinition,
} from '../messages/message.ts';
import { Clock } from '../scheduling/clock.ts';
import { Schedule, type When } from '../scheduling/schedule.ts';
import { ProcessInstance, ProcessInstances, type ProcessRecord } from './processInstance.ts';

/** What a step of an instance may do besides changing its state; it all happens when the step commits. */
export interface ProcessStep<TSends extends readonly RequestDefinition[]> {
  /** The instance's correlation (the order's id, say). */
  readonly correlation: string;
  /** The application's clock, at this step. */
  readonly now: Date;
  /** Sends a command (one the process manager declared in `sends`), through the outbox, once. */
  send(command: InstanceType<TSends[number]>): void;
  /**
   * Schedules a timeout under `key`: an event (the process manager handles it like any other, usually) or a
   * command, due at a time or after a delay. Scheduling a key again replaces it.
   */
  schedule(message: AnyEvent | InstanceType<TSends[number]>, when: When, key: string): void;
  /** Cancels the timeout under `key`, if it is pending. */
  cancel(key: string): void;
  /** Ends the instance: its pending timeouts are cancelled, and later events for it change nothing. */
  complete(): void;
}

/** What one step did: the record it leaves and the actions to commit with it. @internal */
export interface StepOutcome {
  readonly record: ProcessRecord;
  readonly sent: readonly AnyEvent[];
  readonly scheduled: readonly { readonly key: string; readonly message: AnyEvent; readonly dueAt: Date }[];
  readonly cancelled: readonly string[];
}

type Start<TState, TEvent, TSends extends readonly RequestDefinition[]> = (
  event: TEvent,
  step: ProcessStep<TSends>,
) => TState | Promise<TState>;
type React<TState, TEvent, TSends extends readonly RequestDefinition[]> = (
  state: TState,
  event: TEvent,
  step: ProcessStep<TSends>,
) => TState | undefined | Promise<TState | undefined>;

/** An event that carries the correlation field as a string: handling one that does not is a type error. */
type Correlated<TKey extends string> = EventDefinition & {
  new (payload: any): { readonly [K in TKey]: string };
};

/** Events kept per instance to recognise a redelivery. */
const rememberedEvents = 32;

export interface ProcessManagerOptions<
  TState,
  TKey extends string,
  TSends extends readonly RequestDefinition[],
> {
  /** The instances' state, as a type (`unchecked<{ alerted: boolean }>()`) or a schema; kept as JSON. */
  readonly state: StandardSchemaV1<TState, TState>;
  /** The payload field every handled event carries and that names the instance (`'orderId'`). */
  readonly correlation: TKey;
  /** The commands it may send or schedule: sending another is a type error; one without a handler fails build. */
  readonly sends?: TSends;
}

/**
 * A process manager: declare its state, the events that start an instance, what each event does, and include it
 * in the application (`.include(kitchenWatch)`). Each instance is stored like an aggregate, with optimistic
 * concurrency (a conflict re-runs the step); the commands it sends and the timeouts it schedules go out through
 * the schedule in the same transaction as its new state; a redelivered event changes nothing. Events of different
 * types may arrive in any order (each type is its own subscription): let a step tolerate that, as the examples do.
 * @example
 * export const kitchenWatch = processManager('kitchen-watch', {
 *   state: unchecked<{ alerted: boolean }>(), correlation: 'orderId', sends: [RaiseAlert],
 * })
 *   .startedBy(OrderPlaced, (e, step) => { step.schedule(new KitchenLate({ orderId: e.orderId }), { after: 600_000 }, 'late'); return { alerted: false }; })
 *   .on(CookingStarted, (state, _e, step) => { step.complete(); return state; })
 *   .on(KitchenLate, (state, e, step) => { step.send(new RaiseAlert({ orderId: e.orderId })); return { alerted: true }; });
 */
export function processManager<
  TState,
  const TKey extends string,
  const TSends extends readonly RequestDefinition[] = [],
>(name: string, options: ProcessManagerOptions<TState, TKey, TSends>): ProcessManager<TState, TKey, TSends> {
  if (!/^[\w.:-]+$/.test(name)) {
    throw new TypeError(`A process manager's name is letters, digits and . : - _ only, not '${name}'`);
  }
  return new ProcessManager(name, options);
}

export class ProcessManager<
  TState,
  TKey extends string = string,
  TSends extends readonly RequestDefinition[] = readonly RequestDefinition[],
> {
  readonly name: string;
  readonly correlation: TKey;
  readonly sends: TSends;
  readonly #starts = new Map<EventDefinition, Start<TState, any, TSends>>();
  readonly #reactions = new Map<EventDefinition, React<TState, any, TSends>>();

  constructor(name: string, options: ProcessManagerOptions<TState, TKey, TSends>) {
    this.name = name;
    this.correlation = options.correlation;
    this.sends = options.sends ?? ([] as unknown as TSends);
  }

  /** An event that starts an instance (when none runs for its correlation) with the state `start` returns. */
  startedBy<TDefinition extends Correlated<TKey>>(
    definition: TDefinition,
    start: Start<TState, InstanceType<TDefinition>, TSends>,
  ): this {
    this.#once(definition, this.#starts);
    this.#starts.set(definition, start);
    return this;
  }

  /** What an event does to a running instance: its next state (undefined keeps it). Ignored when none runs. */
  on<TDefinition extends Correlated<TKey>>(
    definition: TDefinition,
    react: React<TState, InstanceType<TDefinition>, TSends>,
  ): this {
    this.#once(definition, this.#reactions);
    this.#reactions.set(definition, react);
    return this;
  }

  /** The events it handles. */
  get handles(): readonly EventDefinition[] {
    return [...new Set([...this.#starts.keys(), ...this.#reactions.keys()])];
  }

  /** Registers its event handlers, and checks at build that every command it sends has a handler. */
  get module(): Module {
    return (builder) => {
      builder.expect(...this.sends);
      for (const definition of this.handles) {
        builder.handle(
          eventHandler(
            { name: `process:${this.name}`, idempotent: true, retryOnConflict: 10 },
            definition,
            { instances: ProcessInstances, schedule: Schedule, clock: Clock },
            async (event: AnyEvent, { instances, schedule, clock }, context) => {
              const correlation = this.correlationOf(event);
              const id = ProcessInstance.idOf(this.name, correlation);
              const eventId = context.event?.eventId ?? context.messageId;
              const existing = await instances.get(id);
              const outcome = await this.step(existing?.state, event, eventId, clock.now());
              if (outcome === undefined) return;
              for (const key of outcome.cancelled) schedule.cancel(timeoutId(id, key));
              for (const { key, message, dueAt } of outcome.scheduled) {
                schedule.send(message, { at: dueAt }, { id: timeoutId(id, key) });
              }
              outcome.sent.forEach((command, i) => {
                schedule.send(command, { at: clock.now() }, { id: `${id}/send/${eventId}/${i}` });
              });
              const instance = existing ?? new ProcessInstance(id);
              instance.advance(definitionOf(event)?.type ?? 'unknown', eventId, outcome.record);
              await (existing === undefined ? instances.add(instance) : instances.update(instance));
            },
          ),
        );
      }
    };
  }

  /** The correlation an event carries; an event without one is a bug in its producer, and fails its delivery. */
  correlationOf(event: AnyEvent): string {
    const value = (payloadOf(event) as Record<string, unknown>)[this.correlation];
    if (typeof value !== 'string' || value === '') {
      const type = definitionOf(event)?.type ?? 'an event';
      throw new TypeError(
        `Process manager '${this.name}': ${type} carries no '${this.correlation}' to correlate`,
      );
    }
    return value;
  }

  /**
   * One step: what `event` does to the instance `record` (undefined when none is stored), or undefined when it
   * changes nothing (not a start, a completed instance, a redelivery). Pure but for the handlers it calls. @internal
   */
  async step(
    record: ProcessRecord | undefined,
    event: AnyEvent,
    eventId: string,
    now: Date,
  ): Promise<StepOutcome | undefined> {
    const definition = definitionOf(event) as EventDefinition;
    if (record !== undefined && (record.status === 'completed' || record.handled.includes(eventId))) return;
    const start = this.#starts.get(definition);
    const react = this.#reactions.get(definition);
    if (record === undefined ? start === undefined : react === undefined) return;
    const correlation = this.correlationOf(event);
    const sent: AnyEvent[] = [];
    const scheduled = new Map<string, { key: string; message: AnyEvent; dueAt: Date }>();
    const cancelled = new Set<string>();
    const timeouts: Record<string, string> = { ...record?.timeouts };
    // Cancelled even when due: a timeout may be due and not yet delivered, and must then not be.
    const known = new Set(Object.keys(timeouts));
    let completed = false;
    const allowed = new Set<unknown>(this.sends);
    const checkSendable = (message: AnyEvent) => {
      const kind = definitionOf(message)?.kind;
      if (kind === 'command' && !allowed.has(definitionOf(message))) {
        throw new TypeError(
          `Process manager '${this.name}' sends ${definitionOf(message)?.type}, which it does not declare in 'sends'`,
        );
      }
      if (kind !== 'command' && kind !== 'event') {
        throw new TypeError(`Process manager '${this.name}' can send commands and schedule events only`);
      }
    };
    const stepApi: ProcessStep<TSends> = {
      correlation,
      now,
      send: (command) => {
        checkSendable(command as AnyEvent);
        sent.push(command as AnyEvent);
      },
      schedule: (message, when, key) => {
        checkSendable(message as AnyEvent);
        const dueAt = 'at' in when ? new Date(when.at) : new Date(now.getTime() + when.after);
        if (Number.isNaN(dueAt.getTime()))
          throw new RangeError('step.schedule(): the due time is not a date');
        cancelled.delete(key);
        scheduled.set(key, { key, message: message as AnyEvent, dueAt });
        timeouts[key] = dueAt.toISOString();
      },
      cancel: (key) => {
        scheduled.delete(key);
        if (known.has(key) || key in timeouts) cancelled.add(key);
        delete timeouts[key];
      },
      complete: () => {
        completed = true;
      },
    };
    // A timeout that came due is no longer pending once handled: its key is free.
    for (const [key, due] of Object.entries(timeouts)) {
      if (new Date(due).getTime() <= now.getTime() && !scheduled.has(key)) delete timeouts[key];
    }
    const state =
      record === undefined
        ? await (start as Start<TState, AnyEvent, TSends>)(event, stepApi)
        : ((await (react as React<TState, AnyEvent, TSends>)(record.state as TState, event, stepApi)) ??
          (record.state as TState));
    if (completed) {
      for (const key of new Set([...known, ...Object.keys(timeouts)])) stepApi.cancel(key);
    }
    return {
      record: {
        process: this.name,
        correlation,
        state,
        status: completed ? 'completed' : 'running',
        timeouts,
        handled: [...(record?.handled ?? []), eventId].slice(-rememberedEvents),
        startedAt: record?.startedAt ?? now.toISOString(),
        updatedAt: now.toISOString(),
      },
      sent,
      scheduled: [...scheduled.values()],
      cancelled: [...cancelled],
    };
  }

  #once(definition: EventDefinition, map: Map<EventDefinition, unknown>): void {
    if (definition.kind !== 'event') {
      throw new TypeError(
        `Process manager '${this.name}' reacts to events, and ${definition.type} is not one`,
      );
    }
    if (map.has(definition)) {
      throw new TypeError(`Process manager '${this.name}' handles ${definition.type} twice in the same way`);
    }
  }
}

/** The schedule id of an instance's timeout. */
function timeoutId(instanceId: string, key: string): string {
  return `${instanceId}/timeout/${key}`;
}
