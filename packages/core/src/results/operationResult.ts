import type { LogPosition } from '../log/logPosition.ts';
import {
  type FieldError,
  type ProblemDetails,
  type ProblemOptions,
  problemDetails,
} from './problemDetails.ts';

export type { ProblemOptions } from './problemDetails.ts';

/** The statuses a successful operation can carry. */
export type SuccessStatus = 200 | 201 | 202 | 204;

/** An operation that did what was asked. `data` is its result. */
export interface Success<TData> {
  readonly ok: true;
  readonly status: SuccessStatus;
  readonly data: TData;
  /** For 201: where the created resource lives, when the handler knows it (the HTTP layer sends it as `Location`). */
  readonly location?: string;
  /**
   * The log position of the command's write, set by the unit of work when it committed events. Pass it back as a
   * query's `minPosition` to read your own writes.
   */
  readonly position?: LogPosition;
  /**
   * The subjects whose personal data (see `personalData`) this answer may hold: those the command's events carry,
   * added by the unit of work, and those a handler names because its answer shows data it read (a staff step
   * answering with the customer's order: `{ ...ok(dto), subjects: [order.customerId] }`). What keeps the answer
   * (an idempotency record) is forgotten with them.
   */
  readonly subjects?: readonly string[];
}

/** An expected failure: a value carrying RFC 9457 problem details, never an exception. */
export interface Failure {
  readonly ok: false;
  readonly status: number;
  readonly problem: ProblemDetails;
}

/**
 * The result of every command and query: success with data, or failure with problem details.
 * Narrow on `ok`:
 * @example
 * const result = await mediator.execute(new GetOrder({ id }));
 * if (result.ok) console.log(result.data.total);
 * else console.error(result.problem.detail);
 */
export type OperationResult<TData> = Success<TData> | Failure;

export function isSuccess<TData>(result: OperationResult<TData>): result is Success<TData> {
  return result.ok;
}

export function isFailure<TData>(result: OperationResult<TData>): result is Failure {
  return !result.ok;
}

/** 200: the operation succeeded and returns `data`. */
export function ok<TData>(data: TData): Success<TData> {
  return { ok: true, status: 200, data };
}

/** 201: a resource was created. `location` names it, e.g. `/api/orders/42`. */
export function created<TData>(data: TData, location?: string): Success<TData> {
  return location === undefined ? { ok: true, status: 201, data } : { ok: true, status: 201, data, location };
}

/** 202: the request was accepted and will be carried out later. */
export function accepted<TData = undefined>(data?: TData): Success<TData> {
  return { ok: true, status: 202, data: data as TData };
}

/** 204: the operation succeeded and has nothing to return. */
export function noContent(): Success<undefined> {
  return { ok: true, status: 204, data: undefined };
}

/** A failure with any status and full control over its problem details. */
export function problem(status: number, detail?: string, options: ProblemOptions = {}): Failure {
  return { ok: false, status, problem: problemDetails(status, detail, options) };
}

/** 400: the request is malformed or breaks a rule; `errors` names the fields at fault. */
export function badRequest(detail: string, errors?: readonly FieldError[]): Failure {
  return problem(400, detail, errors === undefined ? {} : { errors });
}

/** 401: who is asking is unknown, and this operation needs to know. */
export function unauthorized(detail = 'Authentication is required'): Failure {
  return problem(401, detail);
}

/** 403: who is asking is known and may not do this. */
export function forbidden(detail = 'You are not allowed to perform this operation'): Failure {
  return problem(403, detail);
}

/**
 * 404: the entity of the given type and key does not exist.
 * @example notFound('Order', 'abc') // "Failed to find an entity of type 'Order' with the specified id 'abc'"
 */
export function notFound(entityType: string, key: string | number | bigint): Failure {
  return problem(
    404,
    `Failed to find an entity of type '${entityType}' with the specified id '${String(key)}'`,
    {
      extensions: { entityType, key: String(key) },
    },
  );
}

/** 409: the operation conflicts with the current state (a stale version, a forbidden transition). */
export function conflict(detail: string, options?: ProblemOptions): Failure {
  return problem(409, detail, options);
}

/** 412: a precondition of the request (such as `If-Match`) does not hold. */
export function preconditionFailed(detail: string): Failure {
  return problem(412, detail);
}

/** 422: the request is well-formed but cannot be processed as it stands. */
export function unprocessableEntity(detail: string, errors?: readonly FieldError[]): Failure {
  return problem(422, detail, errors === undefined ? {} : { errors });
}

/** 500: something failed that should not have. Prefer letting unexpected exceptions travel to the boundary. */
export function internalServerError(detail = 'An unexpected error occurred'): Failure {
  return problem(500, detail);
}

/** 503: a dependency is unavailable; the caller may retry later. */
export function serviceUnavailable(detail = 'The service is temporarily unavailable'): Failure {
  return problem(503, detail);
}
