// The console at /_myelin: a page for operators, live over Server-Sent Events, showing what the application's
// Operations (registered by its persistence) report, and offering its actions to one role.
import { readFileSync } from 'node:fs';
import {
  type Application,
  type DeadLetterRef,
  isUnavailable,
  Operations,
  type Principal,
  type SystemStatus,
} from '@myelin/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthenticationError } from '../auth.ts';
import type { LiveRoutes } from '../live.ts';
import { problemOf, sendProblem } from '../problems.ts';

export interface ConsoleOptions {
  /** The role that may open the console and act in it (the pizzeria: `manager`). */
  readonly role: string;
  /** Where it is served; defaults to `/_myelin`. */
  readonly path?: string;
  /** How often the live view reads the system's status; defaults to 1000 ms. */
  readonly refreshMs?: number;
}

/** An id, a name or a correlation id as the console's actions take them. */
const maxIdLength = 200;

/** The page's own policy: its script and style, served here; nothing inline, nothing from elsewhere. */
const pagePolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function asset(name: string): string {
  return readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
}

/**
 * Registers the console's page, its assets and its API under `options.path`, and returns its live stream (to be
 * served with the application's others, under the same limits). Every API call needs the role.
 */
export function registerConsole(
  fastify: FastifyInstance,
  app: Application,
  options: ConsoleOptions,
  authenticate: (authorization: string | undefined) => Promise<Principal | undefined>,
): LiveRoutes {
  if (!app.container.has(Operations)) {
    throw new TypeError(
      'console: the application has no Operations to show; its persistence registers them (postgresPersistence)',
    );
  }
  const operations = app.container.root.resolve(Operations);
  const base = (options.path ?? '/_myelin').replace(/\/+$/, '');
  if (!/^\/[a-zA-Z0-9_\-/]+$/.test(base)) {
    throw new TypeError(
      `console: path must be a plain absolute path like '/_myelin' (was '${options.path}')`,
    );
  }
  const refreshMs = Math.max(100, options.refreshMs ?? 1000);
  const { role } = options;
  const page = asset('console.html').replaceAll('{{base}}', base);
  const script = asset('console.js');
  const style = asset('console.css');

  fastify.get(base, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', pagePolicy)
      .header('cache-control', 'no-store')
      .send(page),
  );
  fastify.get(`${base}/console.js`, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(script),
  );
  fastify.get(`${base}/console.css`, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(style),
  );

  /** The caller, when they have the role; otherwise the 401 or 403 is sent and undefined returned. */
  async function operator(request: FastifyRequest, reply: FastifyReply): Promise<Principal | undefined> {
    let principal: Principal | undefined;
    try {
      principal = await authenticate(request.headers.authorization);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      reply.header('www-authenticate', 'Bearer error="invalid_token"');
      sendProblem(reply, problemOf(401, error.message));
      return undefined;
    }
    if (principal === undefined) {
      reply.header('www-authenticate', 'Bearer');
      sendProblem(reply, problemOf(401, 'Sign in to use the console'));
      return undefined;
    }
    if (!principal.roles.includes(role)) {
      sendProblem(reply, problemOf(403, `The console requires the role '${role}'`));
      return undefined;
    }
    return principal;
  }

  const api = `${base}/api`;
  const json = (reply: FastifyReply, status: number, body: unknown) =>
    reply.code(status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(body);

  // Several operators watching share one read of the status per refresh.
  let latest: { at: number; status: Promise<SystemStatus> } | undefined;
  const status = (): Promise<SystemStatus> => {
    const now = Date.now();
    if (latest === undefined || now - latest.at >= refreshMs / 2) {
      const reading = operations.status();
      reading.catch(() => {
        if (latest?.status === reading) latest = undefined;
      });
      latest = { at: now, status: reading };
    }
    return latest.status;
  };

  fastify.get(`${api}/status`, async (request, reply) => {
    if ((await operator(request, reply)) === undefined) return reply;
    return json(reply, 200, await status());
  });

  fastify.get(`${api}/dead-letters`, async (request, reply) => {
    if ((await operator(request, reply)) === undefined) return reply;
    return json(reply, 200, { items: await operations.deadLetters({ limit: 200 }) });
  });

  for (const action of ['replay', 'discard'] as const) {
    fastify.post(`${api}/dead-letters/${action}`, async (request, reply) => {
      const principal = await operator(request, reply);
      if (principal === undefined) return reply;
      const target = deadLetterTarget(request.body);
      if ('detail' in target) {
        const errors =
          target.field === undefined
            ? []
            : [{ field: target.field, pointer: `#/${target.field}`, detail: target.detail }];
        return sendProblem(reply, problemOf(400, target.detail, { errors }));
      }
      const count = await operations[action](target.target, principal.subject);
      return json(reply, 200, { [action === 'replay' ? 'replayed' : 'discarded']: count });
    });
  }

  fastify.post(`${api}/projections/:name/rebuild`, async (request, reply) => {
    const principal = await operator(request, reply);
    if (principal === undefined) return reply;
    const { name } = request.params as { name: string };
    if (!isId(name)) return sendProblem(reply, problemOf(400, 'The projection name is not valid'));
    const outcome = await operations.rebuild(name, principal.subject);
    if (outcome === 'not-found')
      return sendProblem(reply, problemOf(404, `No projection is named '${name}'`));
    if (outcome === 'already-building') {
      return sendProblem(reply, problemOf(409, `Projection '${name}' is already being built`));
    }
    return json(reply, 202, { projection: name, state: 'building' });
  });

  // The record of each erasure of personal data: who asked, when, why, whose, what was reached. Never the data.
  fastify.get(`${api}/erasures`, async (request, reply) => {
    if ((await operator(request, reply)) === undefined) return reply;
    return json(reply, 200, { items: await operations.erasures({ limit: 100 }) });
  });

  fastify.get(`${api}/processes`, async (request, reply) => {
    if ((await operator(request, reply)) === undefined) return reply;
    const { status = 'running' } = request.query as { status?: string };
    if (status !== 'running' && status !== 'completed') {
      return sendProblem(
        reply,
        problemOf(400, 'status is running or completed', {
          errors: [{ field: 'status', pointer: '#/status', detail: 'running or completed' }],
        }),
      );
    }
    return json(reply, 200, { items: await operations.processes({ status, limit: 200 }) });
  });

  fastify.get(`${api}/stories/:correlationId`, async (request, reply) => {
    if ((await operator(request, reply)) === undefined) return reply;
    const { correlationId } = request.params as { correlationId: string };
    if (!isId(correlationId)) return sendProblem(reply, problemOf(400, 'The correlation id is not valid'));
    const story = await operations.story(correlationId);
    if (story.causes.length === 0 && story.received.length === 0) {
      return sendProblem(reply, problemOf(404, `No event carries the correlation id '${correlationId}'`));
    }
    return json(reply, 200, story);
  });

  return {
    [`${api}/live`]: {
      roles: [role],
      async *events({ signal }) {
        while (!signal.aborted) {
          try {
            yield { event: 'status', data: await status() };
          } catch (error) {
            if (!isUnavailable(error)) throw error;
            yield { event: 'unavailable', data: { detail: 'The database cannot be read now' } };
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, refreshMs);
            function done() {
              clearTimeout(timer);
              signal.removeEventListener('abort', done);
              resolve();
            }
            signal.addEventListener('abort', done, { once: true });
          });
        }
      },
    },
  };
}

function isId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxIdLength) return false;
  // No control characters (a NUL byte, a line break): nothing an id of Myelin's holds.
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) < 0x20) return false;
  return true;
}

/** `{ subscription, eventId }` or `{ all: true }`; otherwise what is wrong with the body. */
function deadLetterTarget(
  body: unknown,
):
  | { readonly target: DeadLetterRef | 'all' }
  | { readonly detail: string; readonly field?: 'subscription' | 'eventId' } {
  if (typeof body !== 'object' || body === null) {
    return { detail: 'Send { "subscription": …, "eventId": … } or { "all": true }' };
  }
  const { subscription, eventId, all } = body as Record<string, unknown>;
  if (all === true && subscription === undefined && eventId === undefined) return { target: 'all' };
  if (!isId(subscription)) {
    return {
      field: 'subscription',
      detail: 'subscription must be the name of the subscription that parked the event',
    };
  }
  if (!isId(eventId)) return { field: 'eventId', detail: "eventId must be the parked event's id" };
  return { target: { subscription, eventId } };
}
