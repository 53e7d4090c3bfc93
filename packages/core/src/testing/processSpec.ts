import { structurallyEqual } from '../domain/valueObject.ts';
import { newId } from '../mediation/ids.ts';
import { type AnyEvent, definitionOf, payloadOf, type Request } from '../messages/message.ts';

/** A command or an event. */
type Sent = AnyEvent | Request<unknown>;

import type { ProcessRecord } from '../processes/processInstance.ts';
import type { ProcessManager } from '../processes/processManager.ts';
import { SpecificationError } from './aggregateSpec.ts';

/** A timeout an instance has pending, as a test sees it. */
export interface PendingTimeout {
  readonly key: string;
  readonly dueAt: Date;
  readonly message: AnyEvent;
}

/** What happened in a `when`: assert it with the `then…` methods, which return it for more. */
export interface ProcessOutcome<TState> {
  /** The commands sent (timed-out commands included), in order. */
  readonly sent: readonly AnyEvent[];
  /** The timeouts scheduled. */
  readonly scheduled: readonly PendingTimeout[];
  /** The keys of the timeouts cancelled. */
  readonly cancelled: readonly string[];
  /** The instance after it (undefined if none was ever started). */
  readonly state: TState | undefined;
  readonly status: ProcessRecord['status'] | undefined;
  /** Its timeouts still pending. */
  readonly pending: readonly PendingTimeout[];
  /** Asserts the commands sent, in order, by type and payload. */
  thenSent(...expected: Sent[]): this;
  /** Asserts the timeouts scheduled: their keys, messages and how long after the `when` began they are due. */
  thenScheduled(...expected: { key: string; after: number; message: Sent }[]): this;
  /** Asserts the instance's state (structurally). */
  thenState(expected: TState): this;
  /** Asserts the instance's status: running or completed. */
  thenStatus(expected: ProcessRecord['status']): this;
}

/** A process manager under test: its history applied, its clock standing still until a `whenTimePasses`. */
export interface ProcessScenario<TState> {
  /** An event arrives (its id new, unless `eventId` says which: the same id again is a redelivery). */
  when(event: AnyEvent, eventId?: string): Promise<ProcessOutcome<TState>>;
  /** The clock moves on by `ms`: the timeouts that come due fire, in due order (events handled, commands sent). */
  whenTimePasses(ms: number): Promise<ProcessOutcome<TState>>;
}

/**
 * Given/when/then for process managers, without an application or a database: given some events, when an event
 * arrives or time passes, then these commands were sent, these timeouts scheduled, this state reached.
 * @example
 * const outcome = await givenProcess(kitchenWatch, new OrderPlaced({ orderId: 'o1' })).whenTimePasses(10 * 60_000);
 * outcome.thenSent(new RaiseAlert({ orderId: 'o1', reason: 'kitchen' })).thenState({ alerted: true });
 */
export function givenProcess<TState>(
  manager: ProcessManager<TState, any, any>,
  ...history: AnyEvent[]
): ProcessScenario<TState> {
  let now = new Date('2026-01-01T12:00:00.000Z');
  let record: ProcessRecord | undefined;
  const pending = new Map<string, PendingTimeout>();
  let ready: Promise<void> | undefined;

  /** One step; its actions noted in `into`. */
  const apply = async (event: AnyEvent, eventId: string, into: Collected) => {
    const outcome = await manager.step(record, event, eventId, now);
    if (outcome === undefined) return;
    record = outcome.record;
    for (const key of outcome.cancelled) {
      pending.delete(key);
      into.cancelled.push(key);
    }
    for (const timeout of outcome.scheduled) {
      pending.set(timeout.key, timeout);
      into.scheduled.push(timeout);
    }
    into.sent.push(...outcome.sent);
  };
  const prepared = () => {
    ready ??= (async () => {
      for (const event of history) await apply(event, newId(), collected());
    })();
    return ready;
  };
  const outcome = (into: Collected, began: Date): ProcessOutcome<TState> => {
    const result: ProcessOutcome<TState> = {
      sent: into.sent,
      scheduled: into.scheduled,
      cancelled: into.cancelled,
      state: record?.state as TState | undefined,
      status: record?.status,
      pending: [...pending.values()].sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime()),
      thenSent(...expected) {
        expectSame(messages(into.sent), messages(expected), 'the commands sent');
        return this;
      },
      thenScheduled(...expected) {
        expectSame(
          into.scheduled.map((t) => ({
            key: t.key,
            after: t.dueAt.getTime() - began.getTime(),
            message: message(t.message),
          })),
          expected.map((t) => ({ key: t.key, after: t.after, message: message(t.message) })),
          'the timeouts scheduled',
        );
        return this;
      },
      thenState(expected) {
        expectSame(record?.state, expected, 'the state');
        return this;
      },
      thenStatus(expected) {
        expectSame(record?.status, expected, 'the status');
        return this;
      },
    };
    return result;
  };

  return {
    async when(event, eventId = newId()) {
      await prepared();
      const into = collected();
      const began = now;
      await apply(event, eventId, into);
      return outcome(into, began);
    },
    async whenTimePasses(ms) {
      if (!(ms >= 0)) throw new RangeError('Time only passes forward');
      await prepared();
      const into = collected();
      const began = now;
      const until = now.getTime() + ms;
      for (;;) {
        const next = [...pending.values()]
          .filter((t) => t.dueAt.getTime() <= until)
          .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime())[0];
        if (next === undefined) break;
        pending.delete(next.key);
        now = new Date(Math.max(now.getTime(), next.dueAt.getTime()));
        if (definitionOf(next.message)?.kind === 'command') into.sent.push(next.message);
        else await apply(next.message, newId(), into);
      }
      now = new Date(until);
      return outcome(into, began);
    },
  };
}

interface Collected {
  sent: AnyEvent[];
  scheduled: PendingTimeout[];
  cancelled: string[];
}

function collected(): Collected {
  return { sent: [], scheduled: [], cancelled: [] };
}

function message(value: Sent): { type: string | undefined; payload: unknown } {
  return { type: definitionOf(value)?.type, payload: payloadOf(value) };
}

function messages(values: readonly Sent[]) {
  return values.map(message);
}

function expectSame(actual: unknown, expected: unknown, what: string): void {
  if (!structurallyEqual(actual, expected)) {
    throw new SpecificationError(
      `${what}: expected ${JSON.stringify(expected)} but got ${JSON.stringify(actual)}`,
    );
  }
}
