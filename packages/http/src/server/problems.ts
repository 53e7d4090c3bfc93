import { type FieldError, type ProblemDetails, statusTitles } from '@myelin/core';
import type { FastifyReply } from 'fastify';

export const problemContentType = 'application/problem+json';

/** A problem for a status, with the RFC 9457 defaults filled in. */
export function problemOf(
  status: number,
  detail?: string,
  extra: { readonly errors?: readonly FieldError[]; readonly [key: string]: unknown } = {},
): ProblemDetails {
  return {
    type: 'about:blank',
    title: statusTitles[status] ?? (status >= 500 ? 'Server Error' : 'Client Error'),
    status,
    ...(detail === undefined ? {} : { detail }),
    ...extra,
  };
}

/** Sends a problem as `application/problem+json`, naming the request's path as the occurrence. */
export function sendProblem(reply: FastifyReply, problem: ProblemDetails): FastifyReply {
  const body = problem.instance === undefined ? { ...problem, instance: reply.request.url } : problem;
  return reply.code(problem.status).header('cache-control', 'no-store').type(problemContentType).send(body);
}
