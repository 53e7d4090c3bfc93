// A process manager's instance, stored like an aggregate: a document with a version (optimistic concurrency), and
// each step an event in its stream, so the log tells what every instance did and why (its correlation).
import { token } from '../dependencyInjection/token.ts';
import { AggregateRoot } from '../domain/aggregateRoot.ts';
import { event, unchecked } from '../messages/message.ts';
import type { QueryableRepository } from '../persistence/repository.ts';

/** An instance of a process manager, as stored. */
export interface ProcessRecord<TState = unknown> {
  /** The process manager's name. */
  readonly process: string;
  /** What its events share (an order's id, say): the instance's key within its process manager. */
  readonly correlation: string;
  readonly state: TState;
  readonly status: 'running' | 'completed';
  /** Its pending timeouts: key → when due (ISO 8601). */
  readonly timeouts: Readonly<Record<string, string>>;
  /** The ids of the last events it handled: a redelivery of one changes nothing. */
  readonly handled: readonly string[];
  readonly startedAt: string;
  readonly updatedAt: string;
}

/** A step of an instance: the event it handled and the record it left. Written to the instance's stream. */
export const ProcessAdvanced = event(
  'myelin.process.advanced',
  unchecked<{ readonly on: string; readonly eventId: string; readonly record: ProcessRecord }>(),
  { description: "A process manager's instance handled an event or a timeout" },
);

/** @internal */
export class ProcessInstance extends AggregateRoot<ProcessRecord, InstanceType<typeof ProcessAdvanced>> {
  constructor(id: string) {
    super(id, {
      process: '',
      correlation: id,
      state: undefined,
      status: 'running',
      timeouts: {},
      handled: [],
      startedAt: '',
      updatedAt: '',
    });
  }

  static idOf(process: string, correlation: string): string {
    return `${process}/${correlation}`;
  }

  advance(on: string, eventId: string, record: ProcessRecord): void {
    this.raise(new ProcessAdvanced({ on, eventId, record }));
  }

  protected override apply(
    _state: ProcessRecord,
    advanced: InstanceType<typeof ProcessAdvanced>,
  ): ProcessRecord {
    return advanced.record;
  }
}

/** The collection instances are stored in. */
export const processCollection = 'myelin.processes';

/**
 * The stored instances of every process manager, one document each (id `<process>/<correlation>`). Persistence
 * registers it, scoped to the unit of work.
 */
export const ProcessInstances = token<QueryableRepository<ProcessInstance>>('ProcessInstances');
