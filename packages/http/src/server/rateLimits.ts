import rateLimit from '@fastify/rate-limit';
import type { Principal } from '@myelin/core';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';

/** How often one client may call a route. */
export interface RateLimit {
  /** Requests per window per client. */
  readonly max: number;
  /** The window, in milliseconds; defaults to one minute. */
  readonly windowMs?: number;
  /**
   * Count only anonymous callers: a caller with a valid token is not limited here (their identity provider and
   * their roles are the limit). Defaults to false.
   */
  readonly anonymousOnly?: boolean;
}

/** What the development login route allows by default: enough for a person, too few to guess passwords. */
export const defaultLoginLimit: RateLimit = { max: 10, windowMs: 60_000 };

/**
 * Registers @fastify/rate-limit (not globally: only routes given a limit are counted). Clients are told apart by
 * address (behind a proxy, set Fastify's `trustProxy` so that this is the client's); over the limit the answer is
 * a 429 problem with `Retry-After`, through the plugin's error handler.
 */
export async function registerRateLimits(fastify: FastifyInstance): Promise<void> {
  await fastify.register(rateLimit, {
    global: false,
    // A store in memory per process: limits are per API process, which is what a flood of one process needs.
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`Too many requests; retry in ${Math.ceil(context.ttl / 1000)} s`), {
        statusCode: 429,
      }),
  });
}

/** The route configuration that applies `limit`. */
export function rateLimitConfig(
  limit: RateLimit,
  authenticate: (authorization: string | undefined) => Promise<Principal | undefined>,
): Pick<RouteOptions, 'config'> {
  return {
    config: {
      rateLimit: {
        max: limit.max,
        timeWindow: limit.windowMs ?? 60_000,
        ...(limit.anonymousOnly === true
          ? {
              allowList: async (request: FastifyRequest) =>
                (await authenticate(request.headers.authorization).catch(() => undefined)) !== undefined,
            }
          : {}),
      },
    },
  };
}
