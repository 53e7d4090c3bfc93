import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { type MyelinHttpOptions, myelin } from './myelinHttp.ts';
import { problemOf, sendProblem } from './problems.ts';

export interface ServerOptions extends MyelinHttpOptions {
  /** Fastify's own options; Myelin's defaults (below) apply where these say nothing. */
  readonly fastify?: FastifyServerOptions;
  /** Dispose the application (its database pools, its bus connections) when the server closes; defaults to true. */
  readonly disposeOnClose?: boolean;
}

/**
 * Fastify's answer to a request it cannot even route (a malformed URL, a path too long), as a problem. Give it
 * as `frameworkErrors` when you create your own Fastify instance for the plugin; {@link createServer} does.
 */
export function frameworkErrors(error: Error, _request: FastifyRequest, reply: FastifyReply): void {
  void sendProblem(reply, problemOf(400, `The request cannot be read: ${error.message}`));
}

/**
 * A Fastify server serving the application through the plugin, with defaults fit for an API: a 1 MiB body limit,
 * problem+json even for requests Fastify cannot route, 503 (with `Connection: close`) to requests arriving while
 * it closes, and the application disposed once the last request finished.
 * @example const server = await createServer({ app, routes: api, auth }); await serve(server, { port: 3000 });
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const { fastify: fastifyOptions, disposeOnClose = true, ...plugin } = options;
  const server = Fastify({
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    frameworkErrors,
    ...fastifyOptions,
  });
  // A response finished while closing also closes its connection: a kept-alive one would hold the close open.
  let closing = false;
  server.addHook('preClose', async () => {
    closing = true;
  });
  server.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  await server.register(myelin, plugin);
  if (disposeOnClose) server.addHook('onClose', () => plugin.app.dispose());
  return server;
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
