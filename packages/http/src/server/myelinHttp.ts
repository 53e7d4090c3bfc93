import { createHash, randomUUID } from 'node:crypto';
import cors, { type FastifyCorsOptions } from '@fastify/cors';
import {
  type Application,
  isLogPosition,
  isUnavailable,
  type OperationResult,
  type Principal,
  type ProblemDetails,
  principalScope,
} from '@myelin/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HelmetOptions } from 'helmet';
import {
  type AnyRoute,
  correlationHeader,
  hasBody,
  positionHeader,
  type RequestParts,
} from '../client/route.ts';
import { AuthenticationError, type AuthOptions, bearerAuthenticator } from './auth.ts';
import { type ConsoleOptions, registerConsole } from './console/console.ts';
import { correlationIdOf, isCorrelationId } from './correlation.ts';
import { type DevTokenOptions, issueToken } from './devTokens.ts';
import { type HealthOptions, registerHealth } from './health.ts';
import {
  IdempotencyKeys,
  type IdempotencyOptions,
  type ProducedResponse,
  type StoredResponse,
} from './idempotency.ts';
import { type LiveLimits, type LiveRoutes, registerLive } from './live.ts';
import type { OpenApiOptions } from './openapi/openApiDocument.ts';
import { registerOpenApi } from './openapi/registerOpenApi.ts';
import { instanceOf, problemContentType, problemOf, sendProblem } from './problems.ts';
import { defaultLoginLimit, type RateLimit, rateLimitConfig, registerRateLimits } from './rateLimits.ts';
import { BadRequest, checkDepth, requestPayload } from './requestMessage.ts';
import { registerSecurityHeaders } from './securityHeaders.ts';

export interface MyelinHttpOptions {
  readonly app: Application;
  /** The API: routes by name (see `routes`). */
  readonly routes: Readonly<Record<string, AnyRoute>>;
  /** JWT bearer authentication. Without it, every caller is anonymous. */
  readonly auth?: AuthOptions;
  /** A development token issuer (off by default). Needs `auth` with a shared secret. */
  readonly devTokens?: DevTokenOptions;
  /** `Idempotency-Key` on commands; on by default (PostgreSQL when the application has it, memory otherwise). */
  readonly idempotency?: IdempotencyOptions | false;
  /** `/openapi.json` and the `/docs` page; on by default. */
  readonly openapi?: OpenApiOptions | false;
  /** `/health` and `/ready`; on by default. */
  readonly health?: HealthOptions | false;
  /**
   * Security headers (helmet's): on by default, with a strict Content-Security-Policy for what the API serves;
   * pages (the docs, an application's UI) set their own.
   */
  readonly securityHeaders?: HelmetOptions | false;
  /** Cross-origin requests (through @fastify/cors); none are allowed unless configured. */
  readonly cors?: FastifyCorsOptions;
  /** Server-Sent Events streams of read-model changes, by path (`liveQuery` makes one from a query). */
  readonly live?: LiveRoutes;
  /** How many live streams may be open, in all and by one client, and how far behind a client may fall. */
  readonly liveLimits?: LiveLimits;
  /**
   * How often one client may call a route, by route name (through @fastify/rate-limit; 429 problem+json with
   * `Retry-After` beyond). Routes not named are not limited; the development login route has its own default.
   * @example rateLimits: { placeOrder: { max: 30, windowMs: 60_000, exemptRoles: ['staff'] } }
   */
  readonly rateLimits?: Readonly<Record<string, RateLimit>>;
  /**
   * The operators' console (off by default): a live page at `/_myelin` showing the subscriptions of the log, the
   * dead letters and a conversation's story, with replays, discards and rebuilds, for one role only. Needs `auth`.
   * @example console: { role: 'manager' }
   */
  readonly console?: ConsoleOptions;
}

/**
 * The Fastify plugin: binds each route to its message, and answers every request as the issue of an API should:
 * problem+json for every failure (400 naming the fields, 401, 403, 404, 405, 409, 412, 413, 415, 422, and a 500
 * that names a correlation id and nothing else), `Location` on 201, no body on 204, `ETag` and `If-None-Match` on
 * reads of one resource, `If-Match` into the message, `Idempotency-Key` replays, and the log position of a write.
 * Registered at the root (it sets the not-found and error handlers).
 * @example await fastify.register(myelin, { app, routes: api, auth: { issuer, audience, secret } });
 */
export async function myelin(fastify: FastifyInstance, options: MyelinHttpOptions): Promise<void> {
  const { app } = options;
  const routes = Object.entries(options.routes);
  const authenticate = options.auth === undefined ? async () => undefined : bearerAuthenticator(options.auth);
  // Who made a request, asked once however often it is asked: a rate-limited route's limit asks first.
  const callers = new WeakMap<FastifyRequest, Promise<Principal | undefined>>();
  const callerOf = (request: FastifyRequest) => {
    let caller = callers.get(request);
    if (caller === undefined) {
      caller = authenticate(headerOf(request, 'authorization'));
      callers.set(request, caller);
    }
    return caller;
  };
  const idempotency =
    options.idempotency === false ? undefined : new IdempotencyKeys(app, options.idempotency ?? {});

  if (options.securityHeaders !== false) {
    registerSecurityHeaders(fastify, options.securityHeaders ?? {});
  }
  if (options.cors !== undefined) await fastify.register(cors, options.cors);
  // A route whose message nothing handles would start and answer 500 to every request: refuse to start instead.
  const unhandled = routes.filter(([, route]) => app.messages.get(route.message.type) !== route.message);
  if (unhandled.length > 0) {
    throw new TypeError(
      `These routes are bound to messages the application has no handler for: ${unhandled
        .map(([name, route]) => `${name} (${route.message.kind} '${route.message.type}')`)
        .join(', ')}. Register a handler with .handle(...) on the application.`,
    );
  }
  for (const name of Object.keys(options.rateLimits ?? {})) {
    if (options.routes[name] === undefined) {
      throw new TypeError(
        `rateLimits: no route is named '${name}' (the routes: ${Object.keys(options.routes).join(', ')})`,
      );
    }
  }
  const limited = Object.keys(options.rateLimits ?? {}).length > 0 || options.devTokens !== undefined;
  if (limited) await registerRateLimits(fastify);

  fastify.addHook('onRequest', async (request, reply) => {
    // Under createServer the request's id is already its correlation id; on a Fastify of the application's own,
    // the header (when it is a usable one) or a new id.
    const correlationId = isCorrelationId(request.id) ? request.id : correlationIdOf(request.raw);
    correlations.set(request, correlationId);
    reply.header(correlationHeader, correlationId);
  });

  for (const [name, route] of routes) {
    const limit = options.rateLimits?.[name];
    fastify.route({
      method: route.method,
      url: route.path.replaceAll(/\{([^}]*)\}/g, ':$1'),
      ...(limit === undefined ? {} : rateLimitConfig(limit, callerOf)),
      handler: async (request, reply) => {
        let principal: Principal | undefined;
        try {
          principal = await callerOf(request);
        } catch (error) {
          if (!(error instanceof AuthenticationError)) throw error;
          reply.header('www-authenticate', `Bearer error="invalid_token"`);
          return sendProblem(reply, problemOf(401, error.message));
        }
        // Fastify reads text/plain bodies too, as strings: a route of Myelin's takes JSON alone, as it says. (A JSON
        // string sent as JSON is not a media type's fault: it is the 400 for a body that is not an object.)
        if (hasBody(route.method) && /^\s*text\/plain\b/i.test(headerOf(request, 'content-type') ?? '')) {
          return sendProblem(reply, problemOf(415, 'Send the request body as application/json'));
        }
        try {
          checkDepth(request.body);
        } catch (error) {
          if (!(error instanceof BadRequest)) throw error;
          return sendProblem(reply, problemOf(400, error.message, { errors: error.errors }));
        }
        const key = headerOf(request, 'idempotency-key');
        if (key !== undefined && idempotency !== undefined && route.message.kind === 'command') {
          const outcome = await idempotency.run(
            {
              // A caller's keys are theirs: a signed-in caller's by subject, an anonymous one's by address (so
              // one anonymous client cannot read another's response by guessing its key). Scoped by the route, not
              // the URL: the same key with another query string is the same key used for another request (a 422),
              // not a new one that runs again, and what a caller writes in the URL never grows the key's row.
              scope: `${principal === undefined ? `anonymous:${request.ip} ` : principalScope(principal.subject)}${route.method} ${route.path}`,
              key,
              fingerprint: fingerprintOf(request),
            },
            () => respond(name, route, request, principal),
          );
          if (outcome.replayed) reply.header('idempotent-replayed', 'true');
          return write(reply, outcome.response);
        }
        return write(reply, await respond(name, route, request, principal));
      },
    });
  }

  /** Executes the route's message and turns its result into the response, without sending it. */
  async function respond(
    _name: string,
    route: AnyRoute,
    request: FastifyRequest,
    principal: Principal | undefined,
  ): Promise<ProducedResponse> {
    const parts: RequestParts = {
      params: request.params as Record<string, string>,
      query: request.query as Record<string, string | string[]>,
      headers: request.headers as Record<string, string | string[] | undefined>,
      principal,
    };
    let payload: Record<string, unknown>;
    try {
      payload = requestPayload(route, parts, request.body, headerOf(request, 'if-match'));
    } catch (error) {
      if (!(error instanceof BadRequest)) throw error;
      return problemResponse(problemOf(400, error.message, { errors: error.errors }));
    }
    const minPosition = headerOf(request, positionHeader);
    if (minPosition !== undefined && !isLogPosition(minPosition)) {
      return problemResponse(
        problemOf(400, `${positionHeader} must be a log position as a write returned it, like '1234.0'`),
      );
    }
    const Message = route.message;
    const result: OperationResult<unknown> = await app.mediator.execute(new Message(payload), {
      principal,
      correlationId: correlations.get(request),
      ...(route.message.kind === 'query' && minPosition !== undefined ? { minPosition } : {}),
    });
    if (!result.ok) return problemResponse(result.problem);
    const headers: Record<string, string> = {};
    if (result.position !== undefined) headers[positionHeader] = result.position;
    if (result.status === 201 && result.location !== undefined) headers.location = result.location;
    const version = route.options.etag?.(result.data as never);
    if (version !== undefined) {
      const tag = `"${String(version)}"`;
      headers.etag = tag;
      const noneMatch = headerOf(request, 'if-none-match');
      if (route.method === 'GET' && noneMatch !== undefined && matches(noneMatch, tag)) {
        return { status: 304, headers };
      }
    }
    // Kept beside an idempotency record, which is forgotten with them: its body may repeat their personal data.
    const subjects = result.subjects === undefined ? {} : { subjects: result.subjects };
    // A success with nothing to say has no body: a 200 without data is sent as 204.
    if (result.status === 204 || result.data === undefined) {
      return { status: result.status === 200 ? 204 : result.status, headers, ...subjects };
    }
    return { status: result.status, headers, body: result.data, ...subjects };
  }

  function write(reply: FastifyReply, response: StoredResponse): FastifyReply {
    // An answer may carry personal data: no browser or proxy keeps it.
    reply.code(response.status).header('cache-control', 'no-store').headers(response.headers);
    if (response.body === undefined) return reply.send();
    if (response.status >= 400) {
      const problem = response.body as ProblemDetails;
      return reply
        .type(problemContentType)
        .send(
          problem.instance === undefined ? { ...problem, instance: instanceOf(reply.request.url) } : problem,
        );
    }
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(response.body));
  }

  if (options.devTokens !== undefined) {
    const auth = options.auth;
    if (auth?.secret === undefined) {
      throw new TypeError('devTokens needs `auth` with a shared `secret` to sign with');
    }
    const dev = options.devTokens;
    const expiresIn = dev.expiresInSeconds ?? 3600;
    const loginLimit = rateLimitConfig(dev.rateLimit ?? defaultLoginLimit, callerOf);
    fastify.post(dev.path ?? '/api/auth/token', loginLimit, async (request, reply) => {
      const body = request.body as { username?: unknown; password?: unknown } | undefined;
      const errors = (['username', 'password'] as const)
        .filter((field) => typeof body?.[field] !== 'string' || body[field] === '')
        .map((field) => ({ field, pointer: `#/${field}`, detail: `${field} is required` }));
      if (errors.length > 0)
        return sendProblem(reply, problemOf(400, 'Sign in with a username and a password', { errors }));
      const user = dev.users.find((u) => u.username === body?.username && u.password === body?.password);
      if (user === undefined) return sendProblem(reply, problemOf(401, 'Unknown username or wrong password'));
      const accessToken = await issueToken(auth, user, expiresIn);
      // RFC 6749 §5.1: a token response is never cached.
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return reply.send({ accessToken, tokenType: 'Bearer', expiresIn, roles: user.roles });
    });
  }

  if (options.openapi !== false) registerOpenApi(fastify, app, options.routes, options);
  if (options.health !== false) registerHealth(fastify, app, options.health ?? {});
  let live = options.live;
  if (options.console !== undefined) {
    if (options.auth === undefined) throw new TypeError('console needs `auth`: it is open to one role only');
    live = { ...live, ...registerConsole(fastify, app, options.console, authenticate) };
  }
  if (live !== undefined) registerLive(fastify, app, live, authenticate, options.liveLimits);

  // Unknown paths are 404s; known paths asked with another method are 405s that say which methods they take.
  const templates = routes.map(([, route]) => ({
    pattern: new RegExp(
      `^${route.path.replaceAll(/[.*+?^$()|[\]\\]/g, '\\$&').replaceAll(/\\?\{[^}]*\\?\}/g, '[^/]+')}$`,
    ),
    method: route.method,
  }));
  fastify.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = [...new Set(templates.filter((t) => t.pattern.test(path)).map((t) => t.method))];
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(
        reply,
        problemOf(405, `${request.method} is not allowed here; use ${allowed.join(', ')}`),
      );
    }
    return sendProblem(reply, problemOf(404, `Nothing lives at ${request.method} ${path}`));
  });

  fastify.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (isUnavailable(error)) {
      // The database or the broker is down or frozen: nothing committed, and the same request may work later.
      request.log.warn(
        { correlationId: correlations.get(request), reason: error.message },
        'a dependency is unavailable',
      );
      reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
      return sendProblem(reply, problemOf(503, 'The service cannot answer now; retry shortly'));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own refusals: a body that is not JSON, too large, of a type it cannot read.
      return sendProblem(reply, problemOf(status, clientError(error)));
    }
    const correlationId = correlations.get(request) ?? randomUUID();
    request.log.error({ err: error, correlationId }, 'unhandled error');
    return sendProblem(
      reply,
      problemOf(500, `An unexpected error occurred; quote ${correlationId} when reporting it`, {
        correlationId,
      }),
    );
  });
}
// Fastify applies a plugin's hooks and handlers to the whole server only when it is marked so (what
// fastify-plugin does, without the dependency).
Object.assign(myelin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'myelin',
});

const correlations = new WeakMap<FastifyRequest, string>();

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function problemResponse(problem: ProblemDetails): StoredResponse {
  return { status: problem.status, headers: {}, body: problem };
}

function matches(noneMatch: string, tag: string): boolean {
  return noneMatch.trim() === '*' || noneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === tag);
}

/** What Fastify's client errors say, in words a caller can act on. */
function clientError(error: Error & { code?: string }): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      // Fastify gives the same code for a body that is not JSON and for one holding a `__proto__` or
      // `constructor.prototype` key (refused, since merging it would poison objects' prototype).
      return 'The request body is not valid JSON, or holds a "__proto__" or "constructor.prototype" key';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'The request body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Send the request body as application/json';
    default:
      return error.message;
  }
}

/**
 * What makes two requests with one Idempotency-Key the same request: their path's parameters, their query (in any
 * order) and their body, digested.
 */
function fingerprintOf(request: FastifyRequest): string {
  const query = Object.entries((request.query ?? {}) as Record<string, unknown>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return createHash('sha256')
    .update(JSON.stringify([request.params ?? {}, query, request.body ?? null]))
    .digest('base64url');
}
