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
   * Callers holding one of these roles are not counted (staff taking orders by phone, say). Everyone else is: a
   * signed-in caller by their subject, each with a budget of their own wherever they call from, an anonymous one
   * by address. Anyone may sign up at an identity provider, so a valid token alone exempts nobody.
   */
  readonly exemptRoles?: readonly string[];
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

/**
 * The route configuration that applies `limit`. `callerOf` answers who made a request, the same promise each time
 * it is asked of one request (the route asks too); an invalid token counts as anonymous here, and the route itself
 * answers it with a 401.
 */
export function rateLimitConfig(
  limit: RateLimit,
  callerOf: (request: FastifyRequest) => Promise<Principal | undefined>,
): Pick<RouteOptions, 'config'> {
  const principalOf = (request: FastifyRequest) => callerOf(request).catch(() => undefined);
  const exempt = limit.exemptRoles ?? [];
  return {
    config: {
      rateLimit: {
        max: limit.max,
        timeWindow: limit.windowMs ?? 60_000,
        keyGenerator: async (request: FastifyRequest) => {
          const principal = await principalOf(request);
          return principal === undefined ? `ip:${request.ip}` : `user:${principal.subject}`;
        },
        ...(exempt.length === 0
          ? {}
          : {
              allowList: async (request: FastifyRequest) =>
                (await principalOf(request))?.roles.some((role) => exempt.includes(role)) ?? false,
            }),
      },
    },
  };
}
