import type { AggregateRoot, AggregateType } from '../domain/aggregateRoot.ts';
import { structurallyEqual } from '../domain/valueObject.ts';
import { type AnyEvent, definitionOf, payloadOf } from '../messages/message.ts';

/** An assertion of the testing kit failed; the message shows what was expected and what happened. */
export class SpecificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecificationError';
  }
}

type When<TAggregate> = (aggregate: TAggregate) => unknown;

/** The outcome of a `when`: assert it with `thenEvents` or `thenError` (not `then`: that would make it a thenable). */
export interface AggregateOutcome<TAggregate> {
  /** Asserts the events raised, in order, by type and payload. Returns the aggregate for further checks. */
  thenEvents(...expected: AnyEvent[]): TAggregate;
  /** Asserts the call threw (optionally: an error whose message matches) and raised nothing. */
  thenError(expected?: string | RegExp | (abstract new (...args: any[]) => Error)): Error;
}

/**
 * Given/when/then for aggregates: start from a history, run one call, assert the events it raised.
 * @example
 * given(Order, new OrderPlaced({ ... }))
 *   .when((order) => order.startCooking('chef'))
 *   .thenEvents(new CookingStarted({ orderId: 'o1', chef: 'chef' }));
 */
export function given<TAggregate extends AggregateRoot<any, any>>(
  type: AggregateType<TAggregate>,
  ...history: AnyEvent[]
): {
  when(call: When<TAggregate>): AggregateOutcome<TAggregate>;
  withId(id: string): { when(call: When<TAggregate>): AggregateOutcome<TAggregate> };
} {
  const whenWithId = (id: string) => ({
    when(call: When<TAggregate>): AggregateOutcome<TAggregate> {
      const aggregate = new type(id).loadFromHistory(history);
      let error: unknown;
      let subject: TAggregate = aggregate;
      try {
        const returned = call(aggregate);
        // A factory (`Order.place(...)`) returns the new aggregate: assert on that one.
        if (returned !== null && typeof returned === 'object' && 'pendingEvents' in returned)
          subject = returned as TAggregate;
      } catch (caught) {
        error = caught;
      }
      return {
        thenEvents(...expected) {
          if (error !== undefined)
            throw new SpecificationError(`Expected events, but the call threw: ${describeError(error)}`);
          assertEvents(subject.pendingEvents, expected);
          return subject;
        },
        thenError(expected) {
          if (error === undefined) {
            throw new SpecificationError(
              `Expected the call to throw, but it raised ${describeEvents(subject.pendingEvents)}`,
            );
          }
          if (!(error instanceof Error))
            throw new SpecificationError(`Expected an Error, but ${String(error)} was thrown`);
          if (typeof expected === 'string' && !error.message.includes(expected)) {
            throw new SpecificationError(
              `Expected an error containing "${expected}", got "${error.message}"`,
            );
          }
          if (expected instanceof RegExp && !expected.test(error.message)) {
            throw new SpecificationError(`Expected an error matching ${expected}, got "${error.message}"`);
          }
          const description = `${error.name}: ${error.message}`;
          if (typeof expected === 'function' && !(error instanceof expected)) {
            throw new SpecificationError(`Expected a ${expected.name}, got ${description}`);
          }
          if (aggregate.pendingEvents.length > 0) {
            throw new SpecificationError(
              `The call threw but still raised ${describeEvents(aggregate.pendingEvents)}`,
            );
          }
          return error;
        },
      };
    },
  });
  return { ...whenWithId('test-aggregate'), withId: whenWithId };
}

/** Asserts two lists of events are the same types with the same payloads, in order. */
export function assertEvents(actual: readonly AnyEvent[], expected: readonly AnyEvent[]): void {
  const simplify = (events: readonly AnyEvent[]) =>
    events.map((e) => ({ type: definitionOf(e)?.type, data: payloadOf(e) }));
  const got = simplify(actual);
  const want = simplify(expected);
  if (!structurallyEqual(got, want)) {
    throw new SpecificationError(
      `Events differ.\n  expected: ${JSON.stringify(want)}\n  actual:   ${JSON.stringify(got)}`,
    );
  }
}

function describeEvents(events: readonly AnyEvent[]): string {
  return events.length === 0 ? 'no events' : events.map((e) => definitionOf(e)?.type).join(', ');
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
