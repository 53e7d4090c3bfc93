import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Sends helmet's security headers on every response. The headers are worked out once, at start-up: helmet checks
 * and assembles them when its middleware is built, which @fastify/helmet does again for every request (a fifth of
 * a simple query route's CPU time). Only a Content-Security-Policy with a directive computed per request (a
 * function, say for a nonce) makes the middleware run per request.
 */
export function registerSecurityHeaders(fastify: FastifyInstance, options: HelmetOptions): void {
  const middleware = helmet({
    // Served over plain HTTP on a developer's machine, an upgrade would break every page's scripts.
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    ...options,
  });
  if (hasDynamicDirective(options)) {
    fastify.addHook('onRequest', (request, reply, done) =>
      middleware(request.raw, reply.raw, (error) => done(error as Error | undefined)),
    );
    return;
  }
  const headers: Record<string, string> = {};
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      removed.push(name);
    },
  };
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error !== undefined) throw error;
  });
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    for (const name of removed) reply.raw.removeHeader(name);
    done();
  });
}

function hasDynamicDirective(options: HelmetOptions): boolean {
  const policy = options.contentSecurityPolicy;
  if (typeof policy !== 'object' || policy === null) return false;
  return Object.values(policy.directives ?? {}).some(
    (value) =>
      value !== null &&
      typeof value === 'object' &&
      [...(value as Iterable<unknown>)].some((v) => typeof v === 'function'),
  );
}
