/**
 * Route declarations and the typed client; no Node or Fastify, so it loads in a browser.
 * @module @myelin/http/client
 */
export {
  type CallOptions,
  type CallResult,
  type Client,
  type ClientFailure,
  type ClientInput,
  type ClientMethod,
  type ClientOptions,
  type ClientResult,
  type ClientSuccess,
  createClient,
  type NotModified,
} from './client.ts';
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
} from './route.ts';
