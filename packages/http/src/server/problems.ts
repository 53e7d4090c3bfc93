import { type FieldError, type ProblemDetails, problemDetails } from '@myelin/core';
import type { FastifyReply } from 'fastify';

export const problemContentType = 'application/problem+json';

/** A problem the HTTP layer answers itself (a 401, a 429), built as handlers' are: core's `problemDetails`. */
export function problemOf(
  status: number,
  detail?: string,
  extra: { readonly errors?: readonly FieldError[]; readonly [key: string]: unknown } = {},
): ProblemDetails {
  const { errors, ...extensions } = extra;
  return problemDetails(status, detail, { ...(errors === undefined ? {} : { errors }), extensions });
}

/**
 * The occurrence a problem names: the request's path, without its query, which may carry a credential (a live
 * stream's `access_token`, an order's key) that must never be echoed into a body, a log or a screenshot.
 */
export function instanceOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The names of query parameters that carry a credential: redacted wherever a URL is logged. */
const credentials = /([?&](?:access_token|key|token)=)[^&#]*/gi;

/** A request URL fit for a log line: credentials in its query replaced by `[redacted]`. */
export function loggableUrl(url: string): string {
  return url.replaceAll(credentials, '$1[redacted]');
}

/** Sends a problem as `application/problem+json`, naming the request's path as the occurrence. */
export function sendProblem(reply: FastifyReply, problem: ProblemDetails): FastifyReply {
  const body =
    problem.instance === undefined ? { ...problem, instance: instanceOf(reply.request.url) } : problem;
  return reply.code(problem.status).header('cache-control', 'no-store').type(problemContentType).send(body);
}
