/**
 * Myelin's HTTP boundary as a Fastify plugin: routes bound to messages, problem details, auth, OpenAPI, live
 * streams, health and graceful shutdown.
 * @module @myelin/http
 */
export {
  type AnyRoute,
  correlationHeader,
  type DataOf,
  del,
  get,
  type HttpMethod,
  type InputOf,
  type OutputOf,
  type PathParams,
  patch,
  positionHeader,
  post,
  put,
  type RequestParts,
  type Route,
  type RouteOptions,
  routes,
} from './client/route.ts';
export { AuthenticationError, type AuthOptions, bearerAuthenticator } from './server/auth.ts';
export type { ConsoleOptions } from './server/console/console.ts';
export { type DevTokenOptions, type DevUser, issueToken } from './server/devTokens.ts';
export type { HealthOptions } from './server/health.ts';
export type { IdempotencyOptions } from './server/idempotency.ts';
export {
  defaultLiveLimits,
  type LiveEvent,
  type LiveLimits,
  type LiveRoutes,
  type LiveStream,
  type LiveStreamContext,
} from './server/live.ts';
export { type LiveQuery, liveQuery } from './server/liveQuery.ts';
export { type MyelinHttpOptions, myelin } from './server/myelinHttp.ts';
export type { OpenApiOptions } from './server/openapi/openApiDocument.ts';
export { problemContentType } from './server/problems.ts';
export type { RateLimit } from './server/rateLimits.ts';
export {
  clientErrors,
  createServer,
  frameworkErrors,
  type ServeOptions,
  type ServerOptions,
  serve,
} from './server/server.ts';
