import type { Application, Principal } from '@myelin/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AuthenticationError } from './auth.ts';
import { problemOf, sendProblem } from './problems.ts';

/** One message of a live stream. `id` (a log position, usually) is what a reconnecting browser resumes after. */
export interface LiveEvent {
  readonly id?: string;
  /** The SSE event name; `message` when absent. */
  readonly event?: string;
  readonly data: unknown;
}

export interface LiveStreamContext {
  /** The id of the last event the client received, when it reconnects (`Last-Event-ID`); else undefined. */
  readonly lastEventId: string | undefined;
  readonly principal: Principal | undefined;
  /** The path's parameters (`/orders/{id}/live` → `{ id }`). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | readonly string[]>>;
  /** Aborted when the client goes away or the server closes. */
  readonly signal: AbortSignal;
}

/** A stream of read-model changes, sent to browsers as Server-Sent Events as they are committed. */
export interface LiveStream {
  /** Roles that may listen (one of them); anyone, signed in or not, when absent. */
  readonly roles?: readonly string[];
  /** The changes to send, from after `lastEventId` when given, else from now, until `signal` aborts. */
  events(context: LiveStreamContext): AsyncIterable<LiveEvent>;
}

/** Live streams by path. */
export type LiveRoutes = Readonly<Record<string, LiveStream>>;

/** A comment line every so often keeps proxies from closing a quiet stream. */
const heartbeatMs = 15_000;

/**
 * Serves each live stream at its path as `text/event-stream`. A browser's `EventSource` cannot send headers, so
 * the token may also come as `?access_token=` (RFC 6750 §2.3) on these routes only. When the server closes, every
 * stream ends, so that a graceful shutdown does not wait on connections that never finish by themselves.
 */
export function registerLive(
  fastify: FastifyInstance,
  _app: Application,
  live: LiveRoutes,
  authenticate: (authorization: string | undefined) => Promise<Principal | undefined>,
): void {
  const open = new Set<AbortController>();
  fastify.addHook('preClose', async () => {
    for (const stream of open) stream.abort();
  });
  for (const [path, stream] of Object.entries(live)) {
    fastify.get(path.replaceAll(/\{([^}]*)\}/g, ':$1'), async (request, reply) => {
      const query = request.query as Record<string, string | string[]>;
      const token = typeof query.access_token === 'string' ? `Bearer ${query.access_token}` : undefined;
      let principal: Principal | undefined;
      try {
        principal = await authenticate(request.headers.authorization ?? token);
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
        return sendProblem(reply, problemOf(401, error.message));
      }
      if (stream.roles !== undefined) {
        if (principal === undefined)
          return sendProblem(reply, problemOf(401, 'Sign in to follow this stream'));
        if (!stream.roles.some((role) => principal.roles.includes(role))) {
          return sendProblem(
            reply,
            problemOf(403, `This stream requires one of the roles: ${stream.roles.join(', ')}`),
          );
        }
      }
      const lastEventId = request.headers['last-event-id'];
      const controller = new AbortController();
      open.add(controller);
      request.raw.on('close', () => controller.abort());
      const iterator = stream.events({
        lastEventId: typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : undefined,
        principal,
        params: request.params as Record<string, string>,
        query,
        signal: controller.signal,
      });
      await send(reply, iterator, controller).finally(() => open.delete(controller));
    });
  }
}

async function send(
  reply: FastifyReply,
  events: AsyncIterable<LiveEvent>,
  controller: AbortController,
): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no', // nginx would otherwise hold the events back
  });
  raw.write('retry: 2000\n\n');
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), heartbeatMs);
  try {
    for await (const event of events) {
      if (controller.signal.aborted) break;
      raw.write(frame(event));
    }
  } catch (error) {
    if (!controller.signal.aborted) {
      reply.log.error({ err: error }, 'live stream failed');
      raw.write(
        `event: error\ndata: ${JSON.stringify({ detail: 'The stream failed; reconnect to resume' })}\n\n`,
      );
    }
  } finally {
    clearInterval(heartbeat);
    raw.end();
  }
}

/** One event in the SSE format; ids and names lose line breaks, which would end their field. */
function frame(event: LiveEvent): string {
  const lines: string[] = [];
  if (event.id !== undefined) lines.push(`id: ${event.id.replaceAll(/[\r\n]/g, '')}`);
  if (event.event !== undefined) lines.push(`event: ${event.event.replaceAll(/[\r\n]/g, '')}`);
  lines.push(`data: ${JSON.stringify(event.data)}`); // JSON has no raw line breaks
  return `${lines.join('\n')}\n\n`;
}
