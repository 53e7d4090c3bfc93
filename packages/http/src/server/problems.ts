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
 * Where a request's query starts, as Fastify's router reads it: at a `?`, at a `#` (a client may send one, and the
 * router takes what follows as the query), or at a `;` (an application may turn on `useSemicolonDelimiter`). A `;`
 * in a path of an application that did not is cut too: a shorter occurrence or a redacted segment costs nothing,
 * a credential echoed would.
 */
const queryStart = /[?#;]/;

/**
 * The occurrence a problem names: the request's path, without its query, which may carry a credential (a live
 * stream's `access_token`, an order's key) that must never be echoed into a body, a log or a screenshot.
 */
export function instanceOf(url: string): string {
  const query = url.search(queryStart);
  return query === -1 ? url : url.slice(0, query);
}

/** The names of query parameters that carry a credential: redacted wherever a URL is logged. */
const credentials = new Set(['access_token', 'key', 'token']);

/**
 * A request URL fit for a log line: credentials in its query replaced by `[redacted]`. A name is matched as the
 * server reads it, decoded: `access%5Ftoken` is the same parameter as `access_token` to the route, so it must be
 * to the log too.
 */
export function loggableUrl(url: string): string {
  const start = url.search(queryStart);
  if (start === -1) return url;
  // Split at every separator a parser might use (`&`, and `;` by older conventions), keeping each separator, so
  // that a name hidden behind one a parser reads differently is still found.
  const query = url
    .slice(start + 1)
    .split(/([&;?#])/)
    .map((pair) => {
      const equals = pair.indexOf('=');
      if (equals === -1) return pair;
      const name = pair.slice(0, equals);
      return credentials.has(decodedName(name).toLowerCase()) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, start + 1)}${query.join('')}`;
}

/** A query parameter's name decoded as a query string parser does (`+` is a space); as it is when malformed. */
function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}

/** Sends a problem as `application/problem+json`, naming the request's path as the occurrence. */
export function sendProblem(reply: FastifyReply, problem: ProblemDetails): FastifyReply {
  const body =
    problem.instance === undefined ? { ...problem, instance: instanceOf(reply.request.url) } : problem;
  return reply.code(problem.status).header('cache-control', 'no-store').type(problemContentType).send(body);
}
