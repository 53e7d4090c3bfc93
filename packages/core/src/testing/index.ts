/**
 * Given/when/then for aggregates, and in-memory applications for handlers.
 * @module @myelin/core/testing
 */
export { type AggregateOutcome, assertEvents, given, SpecificationError } from './aggregateSpec.ts';
export type { ContractCase } from './contract.ts';
export { type EventStoreUnderTest, eventStoreContract } from './eventStoreContract.ts';
export { newEvent } from './events.ts';
export { expectFailure, expectSuccess, type TestApplication, testApplication } from './handlerSpec.ts';
export {
  type IdempotencyStoreUnderTest,
  idempotencyStoreContract,
} from './idempotencyStoreContract.ts';
export { type MessageBusUnderTest, messageBusContract } from './messageBusContract.ts';
export {
  type PersonalDataUnderTest,
  type PersonalDataWorld,
  personalDataContract,
  personalDataWorld,
} from './personalDataContract.ts';
export { type ProcessesUnderTest, processContract } from './processContract.ts';
export {
  givenProcess,
  type PendingTimeout,
  type ProcessOutcome,
  type ProcessScenario,
} from './processSpec.ts';
export { type ProjectionsUnderTest, projectionContract } from './projectionContract.ts';
export { type PersistenceUnderTest, repositoryContract } from './repositoryContract.ts';
export { type ScheduledDelivery, type SchedulerUnderTest, schedulerContract } from './schedulerContract.ts';
