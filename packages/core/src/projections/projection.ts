// The projection declaration: which events write which read model, and how. Adapters run it (inline in the
// command's commit, or after it by a runner); the declaration names no database.
import { token } from '../dependencyInjection/token.ts';
import type { EventDefinition } from '../messages/message.ts';
import type { StoredEvent } from '../persistence/eventStore.ts';
import type { FindQuery, Page } from '../persistence/repository.ts';
import type { DocumentModel, ReadModel, TableModel, WriterOf } from './readModel.ts';

/**
 * Inline: applied in the transaction of the command that wrote the events, so the read model is never behind.
 * Async: applied after commit by a runner, in batches, each batch in one transaction with the checkpoint.
 */
export type ProjectionMode = 'inline' | 'async';

/** A projection's reaction to one event type: write the read model from the event. */
export type ProjectionHandler<TDefinition extends EventDefinition, TModel extends ReadModel> = (
  event: InstanceType<TDefinition>,
  model: WriterOf<TModel>,
  stored: StoredEvent,
) => unknown; // awaited, then ignored

/** What an erasure hook writes a read model with: its writer, and a search over the version it erases. */
export type ErasureModel<TModel> = WriterOf<TModel> & {
  find(
    query?: FindQuery<
      TModel extends DocumentModel<infer D> ? D : TModel extends TableModel<infer R, any> ? R : never
    >,
  ): Promise<
    Page<TModel extends DocumentModel<infer D> ? D : TModel extends TableModel<infer R, any> ? R : never>
  >;
};

/**
 * What a projection does when a subject is forgotten: remove or blank what its read model holds of them in
 * clear. It runs in the transaction that deletes their keys, on every version of the read model in use.
 */
export type ErasureHook<TModel extends ReadModel> = (subject: string, model: ErasureModel<TModel>) => unknown;

/** A named, versioned projection: the read model it writes and what it does per event type. */
export interface Projection<TModel extends ReadModel = ReadModel> {
  readonly name: string;
  /** Raise it when the handlers change what they write: the new version is built beside the old one. */
  readonly version: number;
  readonly mode: ProjectionMode;
  /**
   * How many partitions an async projection's log is split into, by a hash of the stream id (a stream's events
   * stay in order within its partition). Each is leased on its own, so processes share the work. 1: unsplit.
   */
  readonly partitions: number;
  readonly model: TModel;
  readonly handlers: ReadonlyMap<
    string,
    { readonly definition: EventDefinition; readonly handle: ProjectionHandler<any, TModel> }
  >;
  /** What it does when a subject is forgotten, if its read model holds personal data in clear. */
  readonly erasure: ErasureHook<TModel> | undefined;
  /** Adds the handler of an event type (one per type). */
  on<TDefinition extends EventDefinition>(
    definition: TDefinition,
    handle: ProjectionHandler<TDefinition, TModel>,
  ): Projection<TModel>;
  /**
   * Sets what forgetting a subject does to the read model (see `PersonalData`): a read model built from events
   * with personal data keeps it in clear, and only this reaches it. Rebuilt later, it holds placeholders anyway.
   * @example .erase(async (customerId, orders) => {
   *   for (const order of (await orders.find({ where: { customerId } })).items)
   *     await orders.put(order.id, { ...order, customerName: erased });
   * })
   */
  erase(hook: ErasureHook<TModel>): Projection<TModel>;
}

export interface ProjectionOptions {
  /** Defaults to 1. */
  readonly version?: number;
  /** Defaults to 'async'. */
  readonly mode?: ProjectionMode;
  /**
   * Splits an async projection's work into this many partitions (by a hash of the stream id), each leased on its
   * own, so that several processes catch it up together; defaults to 1. Its handlers must then write only what
   * belongs to the event's stream: two partitions run at once, and a row written from two streams' events would
   * see them in either order. Changing it needs a new version (the partitions are rebuilt).
   */
  readonly partitions?: number;
}

/** The most partitions a projection may have: each is a lease, a runner and a reader of the log. */
const maxPartitions = 64;

/**
 * Declares the projection writing a read model; it takes the read model's name.
 * @example
 * export const orderSummaries = projection(OrderSummaries, { mode: 'inline' })
 *   .on(OrderPlaced, (e, docs) => docs.put(e.orderId, { id: e.orderId, status: 'placed' }))
 *   .on(OrderCancelled, (e, docs) => docs.update(e.orderId, (d) => ({ ...d, status: 'cancelled' })));
 */
export function projection<TModel extends ReadModel>(
  model: TModel,
  options: ProjectionOptions = {},
): Projection<TModel> {
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new TypeError(`The version of projection '${model.modelName}' must be a positive integer`);
  }
  const mode = options.mode ?? 'async';
  const partitions = options.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > maxPartitions) {
    throw new TypeError(
      `The partitions of projection '${model.modelName}' must be an integer from 1 to ${maxPartitions}`,
    );
  }
  if (mode === 'inline' && partitions > 1) {
    throw new TypeError(
      `Projection '${model.modelName}' is inline: it runs in the commit that writes its events, and only an async projection is partitioned`,
    );
  }
  return make(model, version, mode, partitions, new Map(), undefined);
}

function make<TModel extends ReadModel>(
  model: TModel,
  version: number,
  mode: ProjectionMode,
  partitions: number,
  handlers: Projection<TModel>['handlers'],
  erasure: ErasureHook<TModel> | undefined,
): Projection<TModel> {
  return Object.freeze({
    name: model.modelName,
    version,
    mode,
    partitions,
    model,
    handlers,
    erasure,
    on<TDefinition extends EventDefinition>(
      definition: TDefinition,
      handle: ProjectionHandler<TDefinition, TModel>,
    ): Projection<TModel> {
      if (definition.kind !== 'event') {
        throw new TypeError(
          `Projection '${model.modelName}' handles events, and ${definition.type} is not one`,
        );
      }
      if (handlers.has(definition.type)) {
        throw new TypeError(`Projection '${model.modelName}' already handles ${definition.type}`);
      }
      return make(
        model,
        version,
        mode,
        partitions,
        new Map([...handlers, [definition.type, { definition, handle }]]),
        erasure,
      );
    },
    erase(hook: ErasureHook<TModel>): Projection<TModel> {
      if (erasure !== undefined)
        throw new TypeError(`Projection '${model.modelName}' already has an erasure hook`);
      return make(model, version, mode, partitions, handlers, hook);
    },
  });
}

/** The projections an application registered (with `inMemoryProjections` or `postgresProjections`): runners read it. */
export const RegisteredProjections = token<readonly Projection[]>('RegisteredProjections');

/** @internal Throws when two projections share a name: they would write one read model. */
export function checkUnique(projections: readonly Projection[]): void {
  const seen = new Set<string>();
  for (const p of projections) {
    if (seen.has(p.name)) throw new TypeError(`Projection '${p.name}' is registered twice`);
    seen.add(p.name);
  }
}
