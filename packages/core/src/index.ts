/**
 * Typed CQRS for TypeScript: messages, the mediator and its pipeline behaviors, dependency injection, aggregates,
 * results and problem details, and the persistence ports (their in-memory adapters: `@myelin/core/memory`).
 * @module @myelin/core
 */

// Sorted by folder, and each folder is a concept: application/ (the builder), behaviors/ (the built-in pipeline
// behaviors), dependencyInjection/ (tokens; the container is `@myelin/core/container`), domain/ (aggregates,
// entities, values), integration/ (the message bus), log/ (positions, the change feed), mapping/, mediation/
// (handlers, the mediator, the execution context), messages/, observability/ (OpenTelemetry spans and trace
// context), operations/ (readiness), persistence/ (the ports adapters implement), projections/ (read models and
// the projections that write them) and results/ (results and problem details). Everything not listed is internal.
export {
  type Application,
  ApplicationBuildError,
  ApplicationBuilder,
  type ApplicationOptions,
  createApplication,
  MediatorToken,
  type Module,
} from './application/application.ts';
export { type ConsumeOptions, consumeFromBus } from './application/busConsumers.ts';
export type { AuthorizationPolicy } from './behaviors/authorization.ts';
export { type CachePolicy, clearQueryCaches, stableStringify } from './behaviors/caching.ts';
export { Logger, logging, reportErrors } from './behaviors/logging.ts';
export {
  eventUnitOfWork,
  type RetryPolicy,
  type UnitOfWorkOptions,
  unitOfWork,
} from './behaviors/unitOfWork.ts';
export { toFieldErrors, validation } from './behaviors/validation.ts';
export {
  type Dependencies,
  type Resolved,
  type ServiceOf,
  type Token,
  token,
} from './dependencyInjection/token.ts';
export { AggregateRoot, type AggregateType } from './domain/aggregateRoot.ts';
export { Entity } from './domain/entity.ts';
export { structurallyEqual, ValueObject } from './domain/valueObject.ts';
export {
  type BusHandler,
  type BusMessage,
  MessageBus,
  type SubscribeOptions,
} from './integration/messageBus.ts';
export type { ChangeFeed, ChangeListener } from './log/changeFeed.ts';
export {
  comparePositions,
  isLogPosition,
  type LogPosition,
  logPosition,
  positionParts,
  startOfLog,
} from './log/logPosition.ts';
export { createMapper, type Mapper, MappingError, type MapTarget, mapTarget } from './mapping/mapper.ts';
export {
  type Behavior,
  type BehaviorOptions,
  BehaviorOrder,
  type BehaviorScope,
  behavior,
  type EventBehaviorFunction,
  type Next,
  type RequestBehaviorFunction,
} from './mediation/behavior.ts';
export {
  type Delivery,
  type EventMetadata,
  type ExecuteOptions,
  ExecutionContext,
  type Principal,
  type PublishOptions,
} from './mediation/executionContext.ts';
export {
  type AnyHandler,
  type EventHandler,
  type EventHandlerOptions,
  eventHandler,
  type HandleEvent,
  type HandleRequest,
  handler,
  type RequestHandler,
} from './mediation/handler.ts';
export { EventHandlersFailedError, type Mediator, UnhandledMessageError } from './mediation/mediator.ts';
export {
  type AnyEvent,
  type AnyMessageDefinition,
  command,
  definitionOf,
  type EventDefinition,
  type EventOptions,
  event,
  isMessage,
  type JsonSchemaTarget,
  type Message,
  type MessageDefinition,
  type MessageKind,
  type MessageOptions,
  type PayloadInputOf,
  type PayloadOf,
  payloadOf,
  query,
  type Request,
  type RequestDefinition,
  type ResultOf,
  unchecked,
} from './messages/message.ts';
export { type MetricsOptions, metrics } from './observability/metrics.ts';
export {
  activeTraceContext,
  activeTraceIds,
  contextOf,
  type TraceContext,
} from './observability/traceContext.ts';
export { type TracingOptions, tracing, tracingEnabled, withinSpan } from './observability/tracing.ts';
export {
  type DeadLetter,
  type DeadLetterRef,
  Operations,
  type OperatorAction,
  type ProjectionState,
  type RebuildOutcome,
  type Story,
  type StoryCause,
  type StoryDelivery,
  type StoryEvent,
  type SubscriptionKind,
  type SubscriptionStatus,
  type SystemStatus,
} from './operations/operations.ts';
export type { ReadinessCheck } from './operations/readinessCheck.ts';
export {
  type AppendResult,
  EventStore,
  type ExpectedVersion,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
} from './persistence/eventStore.ts';
export {
  type IdempotencyClaim,
  IdempotencyStore,
  principalScope,
  type StoredIdempotentResponse,
} from './persistence/idempotencyStore.ts';
export {
  ConcurrencyError,
  type FieldFilter,
  type Filter,
  type FindQuery,
  isConcurrencyError,
  type Page,
  type QueryableRepository,
  type Repository,
  type SortOrder,
} from './persistence/repository.ts';
export { type CommitResult, UnitOfWork } from './persistence/unitOfWork.ts';
export { type Upcast, type Upcastable, type Upcaster, upcaster, upcasting } from './persistence/upcasting.ts';
export { type AesGcm, webCryptoAesGcm } from './personalData/aesGcm.ts';
export {
  localMasterKey,
  type MasterKey,
  type MasterKeyOptions,
  MasterKeyRing,
  newMasterKey,
  type RewrapReport,
} from './personalData/masterKey.ts';
export {
  anyPersonalDataDeclared,
  checkForget,
  type Erasure,
  erased,
  type ForgetOptions,
  PersonalData,
  type PersonalDataDeclaration,
  PersonalDataReader,
  type PersonalFields,
  personalDataOf,
  personalDataTypes,
  sealedField,
  type TextFieldOf,
} from './personalData/personalData.ts';
export {
  DataKeyGoneError,
  type DataKeyStore,
  envelopeOf,
  keyIdsOf,
  PersonalDataCipher,
  type PersonalDataCipherOptions,
  type SealedEvents,
  type StoredDataKey,
} from './personalData/personalDataCipher.ts';
export { ListProcesses, type ProcessView, processInspection } from './processes/processInspection.ts';
export {
  ProcessAdvanced,
  ProcessInstance,
  ProcessInstances,
  type ProcessRecord,
  processCollection,
} from './processes/processInstance.ts';
export {
  ProcessManager,
  type ProcessManagerOptions,
  type ProcessStep,
  processManager,
  type StepOutcome,
} from './processes/processManager.ts';
export {
  type ErasureHook,
  type ErasureModel,
  type Projection,
  type ProjectionHandler,
  type ProjectionMode,
  type ProjectionOptions,
  projection,
  RegisteredProjections,
} from './projections/projection.ts';
export {
  type DocumentModel,
  type DocumentReader,
  type DocumentWriter,
  documents,
  type ReadModel,
  type TableModel,
  type TableReader,
  type TableWriter,
  table,
  type WriterOf,
} from './projections/readModel.ts';
export {
  accepted,
  badRequest,
  conflict,
  created,
  type Failure,
  forbidden,
  internalServerError,
  isFailure,
  isSuccess,
  noContent,
  notFound,
  type OperationResult,
  ok,
  type ProblemOptions,
  preconditionFailed,
  problem,
  type Success,
  type SuccessStatus,
  serviceUnavailable,
  unauthorized,
  unprocessableEntity,
} from './results/operationResult.ts';
export {
  type FieldError,
  formatFieldPath,
  formatJsonPointer,
  type ProblemDetails,
  problemDetails,
  statusTitles,
} from './results/problemDetails.ts';
export { isUnavailable, UnavailableError } from './results/unavailable.ts';
export { Clock, systemClock, TestClock } from './scheduling/clock.ts';
export {
  type DeliveryOutcome,
  executeScheduled,
  handlerTimeoutOf,
  type MessageSchedulerOptions,
  retryDelay,
} from './scheduling/delivery.ts';
export {
  Schedule,
  type ScheduleChange,
  type ScheduledMessage,
  ScheduledMessageGoneError,
  type ScheduleOptions,
  scheduleOf,
  sealScheduled,
  type When,
} from './scheduling/schedule.ts';
