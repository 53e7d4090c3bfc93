import { type Application, type ApplicationBuilder, createApplication } from '../application/application.ts';
import { InMemoryDatabase } from '../inMemory/inMemoryDatabase.ts';
import { InMemoryMessageBus } from '../inMemory/inMemoryMessageBus.ts';
import { inMemoryPersistence } from '../inMemory/inMemoryPersistence.ts';
import { MessageBus } from '../integration/messageBus.ts';
import type { ExecuteOptions, PublishOptions } from '../mediation/executionContext.ts';
import type { AnyEvent, EventDefinition, Request } from '../messages/message.ts';
import type { StoredEvent } from '../persistence/eventStore.ts';
import type { Failure, OperationResult, Success } from '../results/operationResult.ts';
import { SpecificationError } from './aggregateSpec.ts';

/** An application wired to in-memory adapters, with what it committed and published open to assertions. */
export interface TestApplication extends AsyncDisposable {
  readonly app: Application;
  readonly database: InMemoryDatabase;
  readonly bus: InMemoryMessageBus;
  execute<TResult>(request: Request<TResult>, options?: ExecuteOptions): Promise<OperationResult<TResult>>;
  publish(event: AnyEvent, options?: PublishOptions): Promise<void>;
  /** Every event committed so far, in log order, as stored (personal fields sealed). */
  readonly events: readonly StoredEvent[];
  /** The payloads of the committed events of one type, as their readers see them (personal fields opened). */
  eventsOf<TPayload>(definition: EventDefinition<TPayload>): Promise<TPayload[]>;
}

/**
 * Builds an application on the in-memory adapters (persistence, unit of work, message bus) for handler tests.
 * @example
 * await using t = await testApplication((app) => app.include(ordersModule));
 * const order = expectSuccess(await t.execute(new PlaceOrder({ ... })), 201);
 * expect(await t.eventsOf(OrderPlaced)).toHaveLength(1);
 */
export async function testApplication(
  configure: (builder: ApplicationBuilder) => void,
): Promise<TestApplication> {
  const database = new InMemoryDatabase();
  const bus = new InMemoryMessageBus();
  const builder = createApplication()
    .include(inMemoryPersistence(database))
    .singleton(MessageBus, () => bus);
  configure(builder);
  const app = await builder.build();
  return {
    app,
    database,
    bus,
    execute: (request, options) => app.mediator.execute(request, options),
    publish: (event, options) => app.mediator.publish(event, options),
    get events() {
      return database.log;
    },
    async eventsOf<TPayload>(definition: EventDefinition<TPayload>) {
      const stored = database.log.filter((e) => e.metadata.type === definition.type);
      return (await database.protection.reveal(stored)).map((e) => structuredClone(e.data) as TPayload);
    },
    [Symbol.asyncDispose]: () => app.dispose(),
  };
}

/** Asserts a result succeeded (with `status`, when given) and returns its data. */
export function expectSuccess<TData>(
  result: OperationResult<TData>,
  status?: Success<TData>['status'],
): TData {
  if (!result.ok) {
    throw new SpecificationError(
      `Expected success${status ? ` ${status}` : ''}, got ${result.status}: ${JSON.stringify(result.problem)}`,
    );
  }
  if (status !== undefined && result.status !== status) {
    throw new SpecificationError(`Expected status ${status}, got ${result.status}`);
  }
  return result.data;
}

/** Asserts a result failed with `status` and returns its problem details. */
export function expectFailure(result: OperationResult<unknown>, status: number): Failure['problem'] {
  if (result.ok)
    throw new SpecificationError(
      `Expected a ${status} failure, got success ${result.status}: ${JSON.stringify(result.data)}`,
    );
  if (result.status !== status) {
    throw new SpecificationError(
      `Expected status ${status}, got ${result.status}: ${JSON.stringify(result.problem)}`,
    );
  }
  return result.problem;
}
