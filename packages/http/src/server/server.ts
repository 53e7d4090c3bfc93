import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { tracingEnabled } from '@myelin/core';
import Fastify, {
  type FastifyInstance,
  type FastifyPluginCallback,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { correlationIdOf } from './correlation.ts';
import { type MyelinHttpOptions, myelin } from './myelinHttp.ts';
import { loggableUrl, problemOf, sendProblem } from './problems.ts';

export interface ServerOptions extends MyelinHttpOptions {
  /** Fastify's own options; Myelin's defaults (below) apply where these say nothing. */
  readonly fastify?: FastifyServerOptions;
  /**
   * How long a client may take to send a whole request, headers and body; defaults to 30 s. A body trickled in
   * byte by byte holds a connection and its memory: past this it is answered 408 and closed.
   */
  readonly requestTimeoutMs?: number;
  /** How long a client may take to send a request's headers; defaults to 10 s (at most `requestTimeoutMs`). */
  readonly headersTimeoutMs?: number;
  /** Dispose the application (its database pools, its bus connections) when the server closes; defaults to true. */
  readonly disposeOnClose?: boolean;
  /**
   * An OpenTelemetry span per request, by `@fastify/otel`, which the application's spans
   * (`tracing()` in core) are children of, when an SDK is registered before the server is created (as
   * OpenTelemetry asks of every instrumentation); without one, nothing, not even no-op spans. `@fastify/otel` is an
   * optional peer: by default it is used when installed; `true` requires it (and says how to install it); `false`
   * leaves it out.
   */
  readonly telemetry?: boolean;
}

/**
 * Fastify's answer to a request it cannot even route (a malformed URL, a path too long), as a problem. Give it
 * as `frameworkErrors` when you create your own Fastify instance for the plugin; {@link createServer} does.
 */
export function frameworkErrors(error: Error, _request: FastifyRequest, reply: FastifyReply): void {
  void sendProblem(reply, problemOf(400, `The request cannot be read: ${error.message}`));
}

/**
 * The answer to a request Node cannot even parse (headers too large, a malformed request line, a request that
 * took too long to arrive), as a problem like every other: Node gives no request to reply to, so the response is
 * written on the socket, which then closes. Give it as `clientErrorHandler` to your own Fastify instance;
 * {@link createServer} does.
 */
export function clientErrors(error: Error & { code?: string }, socket: Duplex): void {
  // A connection reset has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request took too long to arrive']
        : [400, 'The request cannot be read as HTTP'];
  const body = JSON.stringify(problemOf(status, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * A Fastify server serving the application through the plugin, with defaults fit for an API: a 1 MiB body limit,
 * 30 s to send a request (10 s for its headers), problem+json even for requests Node cannot parse or Fastify cannot
 * route, warnings and errors logged (a 500 with its correlation id; `fastify: { logger: false }` silences it),
 * 503 (with `Connection: close`) to requests arriving while
 * it closes, and the application disposed once the last request finished.
 * @example const server = await createServer({ app, routes: api, auth }); await serve(server, { port: 3000 });
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const {
    fastify: fastifyOptions,
    disposeOnClose = true,
    telemetry,
    requestTimeoutMs = 30_000,
    headersTimeoutMs = 10_000,
    ...plugin
  } = options;
  const server = Fastify({
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    frameworkErrors,
    clientErrorHandler: clientErrors,
    requestTimeout: requestTimeoutMs,
    // Node checks the timeouts above every so often (30 s unless told): often enough that they hold to a second.
    http: { connectionsCheckingInterval: Math.min(1000, requestTimeoutMs) },
    // The request's id is its correlation id: Fastify's request lines and Myelin's lines of one request join up.
    genReqId: correlationIdOf,
    ...fastifyOptions,
    // A path parameter may hold a user id (up to OpenID Connect's 255 characters, with a prefix; Fastify counts it
    // decoded): its default of 100 would answer some users 400 on their own resources. Still a limit. (A router
    // option: given at the top level, Fastify 5.5 and later warn that it is deprecated.)
    routerOptions: {
      maxParamLength: fastifyOptions?.maxParamLength ?? 1000,
      ...fastifyOptions?.routerOptions,
    },
    ...withRedactedUrls(fastifyOptions),
  });
  server.server.headersTimeout = Math.min(headersTimeoutMs, requestTimeoutMs);
  // A response finished while closing also closes its connection: a kept-alive one would hold the close open.
  let closing = false;
  server.addHook('preClose', async () => {
    closing = true;
  });
  server.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  // Before the routes, which it instruments as they are declared. Only with an SDK registered: without one its
  // spans are no-ops that still cost (with the application's no-op spans) 16% more server CPU per command, 293 →
  // 341 µs in bench/ http's run 5 (BENCHMARKS.md), where the API alone promises next to nothing.
  const otel = telemetry === false ? undefined : await fastifyOtel(telemetry === true);
  if (otel !== undefined && tracingEnabled()) await server.register(otel);
  await server.register(myelin, plugin);
  if (disposeOnClose) server.addHook('onClose', () => plugin.app.dispose());
  return server;
}

/**
 * Fastify's logger, with request URLs logged without the credentials a query may carry (a live stream's
 * `access_token`, an order's key): the application's own logger (`loggerInstance`, a pino instance the whole
 * process shares), as a child with that serializer, or one Fastify makes from `logger`'s options.
 */
function withRedactedUrls(
  options: FastifyServerOptions | undefined,
): Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> {
  const req = (request: FastifyRequest) => ({
    method: request.method,
    url: loggableUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
  });
  if (options?.loggerInstance !== undefined) {
    return { loggerInstance: options.loggerInstance.child({}, { serializers: { req } }) };
  }
  const logger = options?.logger;
  if (logger === false) return {};
  // Unless told otherwise, warnings and errors are logged: a 500 names a correlation id for the client to quote,
  // which must be findable in the log.
  const given = logger === undefined ? { level: 'warn' } : logger === true ? {} : logger;
  return { logger: { ...given, serializers: { req, ...given.serializers } } };
}

export interface ServeOptions {
  readonly port?: number;
  /** Defaults to `127.0.0.1`; `0.0.0.0` to serve other machines (in a container, say). */
  readonly host?: string;
  /** The signals that stop the server gracefully; defaults to SIGINT and SIGTERM. */
  readonly signals?: readonly NodeJS.Signals[];
  /** How long in-flight requests may take once a signal came, before connections are cut; defaults to 10 s. */
  readonly graceMs?: number;
}

/**
 * Listens, and on SIGINT or SIGTERM shuts down gracefully: stops accepting, lets in-flight requests finish (up to
 * `graceMs`), ends live streams, then disposes the application (database, NATS) through the server's close.
 * @returns the address it listens on.
 */
export async function serve(server: FastifyInstance, options: ServeOptions = {}): Promise<string> {
  const address = await server.listen({ port: options.port ?? 3000, host: options.host ?? '127.0.0.1' });
  const graceMs = options.graceMs ?? 10_000;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    server.log.info(`${signal}: closing`);
    const cut = setTimeout(() => server.server.closeAllConnections(), graceMs);
    cut.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.log.error({ err: error }, 'closing failed');
        process.exit(1);
      },
    );
  };
  for (const signal of options.signals ?? ['SIGINT', 'SIGTERM']) process.once(signal, stop);
  return address;
}

/** `@fastify/otel`'s plugin, when it is installed (an optional peer, so that an install without it stays light). */
async function fastifyOtel(required: boolean): Promise<FastifyPluginCallback | undefined> {
  try {
    const { FastifyOtelInstrumentation } = await import('@fastify/otel');
    const instrumentation = new FastifyOtelInstrumentation({
      // The request's span alone: not a span per lifecycle hook (Myelin's own hooks: the correlation id, the
      // token, the limits, the headers), which doubled the spans a request records for no question an operator
      // asks, and made the SDK's cost per command a third more CPU; and not the route handler's, whose work is
      // the mediator's `process <message>` span, a child of the request's, with the message's type and outcome.
      instrumentHooks: false,
      instrumentHandler: false,
      // It records the URL as Fastify has it, query included: a live stream's `access_token` or an order's
      // `key` would reach the trace backend. `url.path` is the path alone, as the conventions define it. And it
      // names every span `request`: the HTTP conventions name a server span by its method and route (the
      // template, never the path, which holds ids), `POST /orders/:id/cancel`; a request no route took, by its
      // method alone.
      requestHook: (span, request) => {
        span.setAttribute('url.path', request.url.split('?')[0] ?? '');
        const route = request.routeOptions.url;
        span.updateName(route === undefined ? request.method : `${request.method} ${route}`);
      },
    });
    return instrumentation.plugin() as FastifyPluginCallback;
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    if (!missing) throw error;
    if (required) {
      throw new Error('createServer({ telemetry: true }) needs @fastify/otel: npm install @fastify/otel', {
        cause: error,
      });
    }
    return undefined;
  }
}
