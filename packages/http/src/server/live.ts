import type { Application, Principal } from '@myelin/core';
import { metrics, type ObservableResult } from '@opentelemetry/api';
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
  /**
   * The changes to send, from after `lastEventId` when given, else from now, until `signal` aborts. A stream that
   * cannot start throws (or rejects) before giving its events, and is answered with a problem rather than a 200:
   * 503 with `Retry-After` for an unavailable dependency.
   */
  events(context: LiveStreamContext): AsyncIterable<LiveEvent> | Promise<AsyncIterable<LiveEvent>>;
}

/** Live streams by path. */
export type LiveRoutes = Readonly<Record<string, LiveStream>>;

/** How many streams may be open, and how much an unread stream may hold. */
export interface LiveLimits {
  /** Streams open at once in this process; beyond, 503 with `Retry-After`. Defaults to 10,000. */
  readonly streams?: number;
  /**
   * Streams open at once by one client (a signed-in subject, else an IP address); beyond, 429 with
   * `Retry-After`. Defaults to 20.
   */
  readonly streamsPerClient?: number;
  /**
   * Bytes written to a stream that its client has not read yet; a client further behind is dropped (its browser
   * reconnects and gets the current state), never buffered without limit. Defaults to 256 KiB.
   */
  readonly bufferedBytes?: number;
  /**
   * How long a stream stays open, at most; it also ends when the token that opened it expires (its `exp`). The
   * browser then reconnects and resumes after the last event id, signing in again: access granted once is
   * checked again this often, and a stolen or revoked token's stream does not run for ever. Each stream ends
   * somewhere in the last tenth of it, so that streams opened together do not all reconnect together. Defaults to
   * an hour.
   */
  readonly lifetimeMs?: number;
}

export const defaultLiveLimits: Required<LiveLimits> = {
  streams: 10_000,
  streamsPerClient: 20,
  bufferedBytes: 256 * 1024,
  lifetimeMs: 3_600_000,
};

/** The longest a timer waits in Node (about 24.8 days); a longer lifetime would fire at once. */
const longestTimerMs = 2 ** 31 - 1;

/**
 * The limits, each checked: a limit that is not a positive whole number would silently lift or break it. One given
 * as undefined (a configuration's unset value) takes its default, as if absent.
 */
function checkedLimits(limits: LiveLimits): Required<LiveLimits> {
  const checked: Required<LiveLimits> = {
    streams: limits.streams ?? defaultLiveLimits.streams,
    streamsPerClient: limits.streamsPerClient ?? defaultLiveLimits.streamsPerClient,
    bufferedBytes: limits.bufferedBytes ?? defaultLiveLimits.bufferedBytes,
    lifetimeMs: limits.lifetimeMs ?? defaultLiveLimits.lifetimeMs,
  };
  for (const [name, value] of Object.entries(checked)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`liveLimits.${name} must be a positive whole number; got ${String(value)}`);
    }
  }
  if (checked.lifetimeMs > longestTimerMs) {
    throw new TypeError(`liveLimits.lifetimeMs may be at most ${longestTimerMs} ms (about 24 days)`);
  }
  return checked;
}

/**
 * A stream's lifetime: somewhere in the last tenth of the limit. Every browser reconnects at once after a deploy;
 * streams that all lived exactly the limit would have them all reconnect together again, every lifetime, for ever
 * (gRPC spreads its MAX_CONNECTION_AGE the same way).
 */
function spread(lifetimeMs: number): number {
  return lifetimeMs - Math.floor(Math.random() * lifetimeMs * 0.1);
}

/**
 * When the principal's token expires, in ms since the epoch (its `exp` claim); undefined when it says not. A claim
 * written as a string of digits (some issuers do) is the same time: ignoring it would keep the stream open for its
 * whole lifetime after the token died.
 */
function expiryOf(principal: Principal | undefined): number | undefined {
  const claim = principal?.claims?.exp;
  const exp = typeof claim === 'string' && /^\d{1,15}$/.test(claim) ? Number(claim) : claim;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}

/** A comment line every so often keeps proxies from closing a quiet stream. */
const heartbeatMs = 15_000;
/** How soon a refused client may try again. */
const retryAfterSeconds = 5;

/** An open stream, as the route keeps it. */
interface OpenStream {
  readonly controller: AbortController;
  readonly write: (text: string) => void;
}

/**
 * Serves each live stream at its path as `text/event-stream`. A browser's `EventSource` cannot send headers, so
 * the token may also come as `?access_token=` (RFC 6750 §2.3) on these routes only. Open streams are counted,
 * in all and by client, against `limits`. When the server closes, every stream ends, so that a graceful shutdown
 * does not wait on connections that never finish by themselves.
 */
export function registerLive(
  fastify: FastifyInstance,
  _app: Application,
  live: LiveRoutes,
  authenticate: (authorization: string | undefined) => Promise<Principal | undefined>,
  limits: LiveLimits = {},
): void {
  const { streams, streamsPerClient, bufferedBytes, lifetimeMs } = checkedLimits(limits);
  const open = new Set<OpenStream>();
  const byClient = new Map<string, number>();
  // One timer for every stream, not one each.
  let heartbeat: NodeJS.Timeout | undefined;
  const beat = () => {
    for (const stream of open) stream.write(': keep-alive\n\n');
  };
  // How many are open, for dashboards (no-op until the application registers an OpenTelemetry meter provider).
  const gauge = metrics.getMeter('@myelin/http').createObservableGauge('myelin.live.streams', {
    unit: '{stream}',
    description: 'Live streams (Server-Sent Events) open in this process',
  });
  const observe = (result: ObservableResult) => result.observe(open.size);
  gauge.addCallback(observe);
  fastify.addHook('preClose', async () => {
    for (const stream of open) stream.controller.abort();
  });
  fastify.addHook('onClose', async () => gauge.removeCallback(observe));
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
      // A stream is authorized once, when it opens: it must not outlive the token that opened it. A token the
      // verifier still took (its clock leeway) but that has expired would give a stream that ends at once, and a
      // browser reconnecting to it in a loop: refused instead, so that the client signs in again.
      const expiresIn = (expiryOf(principal) ?? Number.POSITIVE_INFINITY) - Date.now();
      if (expiresIn <= 0) return sendProblem(reply, problemOf(401, 'The token has expired; sign in again'));
      const client = principal === undefined ? `ip:${request.ip}` : `user:${principal.subject}`;
      const clientStreams = byClient.get(client) ?? 0;
      if (open.size >= streams) {
        reply.header('retry-after', String(retryAfterSeconds));
        return sendProblem(reply, problemOf(503, 'Too many live streams are open; try again shortly'));
      }
      if (clientStreams >= streamsPerClient) {
        reply.header('retry-after', String(retryAfterSeconds));
        return sendProblem(
          reply,
          problemOf(429, `At most ${streamsPerClient} live streams may be open at once by one client`),
        );
      }
      const lastEventId = request.headers['last-event-id'];
      const controller = new AbortController();
      request.raw.on('close', () => controller.abort());
      const raw = reply.raw;
      const entry: OpenStream = {
        controller,
        write: (text) => {
          // A client this far behind is not reading: drop it rather than hold its backlog.
          if (raw.writableLength > bufferedBytes) {
            request.log.info('live stream dropped: its client is not reading');
            controller.abort();
            raw.destroy();
            return;
          }
          raw.write(text);
        },
      };
      open.add(entry);
      byClient.set(client, clientStreams + 1);
      heartbeat ??= setInterval(beat, heartbeatMs).unref();
      // Ends at the token's expiry or at the end of its lifetime, whichever comes first; aborting ends the response
      // and frees the stream's place below. Unref'd: an open stream must not keep a closing process alive.
      const lifetime = setTimeout(() => controller.abort(), Math.min(spread(lifetimeMs), expiresIn)).unref();
      try {
        const events = await stream.events({
          lastEventId: typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : undefined,
          principal,
          params: request.params as Record<string, string>,
          query,
          signal: controller.signal,
        });
        await send(reply, events, entry);
      } finally {
        // A stream that ended first (its client left, the server closed, it failed) must not leave its timer, and
        // the stream it holds, pending for up to an hour.
        clearTimeout(lifetime);
        open.delete(entry);
        const left = (byClient.get(client) ?? 1) - 1;
        if (left === 0) byClient.delete(client);
        else byClient.set(client, left);
        if (open.size === 0 && heartbeat !== undefined) {
          clearInterval(heartbeat);
          heartbeat = undefined;
        }
      }
    });
  }
}

async function send(
  reply: FastifyReply,
  events: AsyncIterable<LiveEvent>,
  stream: OpenStream,
): Promise<void> {
  const { controller } = stream;
  const iterator = events[Symbol.asyncIterator]();
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
  // The stream is asked to stop through its signal, but one that does not listen (a read stuck on a database that
  // froze, a generator that ignores it) must not hold the response, nor its place among the open streams, past its
  // lifetime: an abort settles the read being waited on at once. One settler for the read in flight, not a race
  // against a promise that lives as long as the stream (each race would leave a reaction on it until it ends).
  let settle: ((result: IteratorResult<LiveEvent>) => void) | undefined;
  let stuck = false;
  const abandon = () => {
    stuck = settle !== undefined;
    settle?.({ done: true, value: undefined });
  };
  controller.signal.addEventListener('abort', abandon, { once: true });
  try {
    for (;;) {
      const next = await new Promise<IteratorResult<LiveEvent>>((resolve, reject) => {
        settle = resolve;
        iterator.next().then(resolve, reject);
      });
      settle = undefined;
      if (next.done || controller.signal.aborted) break;
      stream.write(frame(next.value));
    }
  } catch (error) {
    if (!controller.signal.aborted) {
      reply.log.error({ err: error }, 'live stream failed');
      stream.write(
        `event: error\ndata: ${JSON.stringify({ detail: 'The stream failed; reconnect to resume' })}\n\n`,
      );
    }
  } finally {
    controller.signal.removeEventListener('abort', abandon);
    // A stream stuck in a read would queue its `return` behind that read: asked, not waited for.
    const closing = iterator.return?.();
    if (stuck) {
      void Promise.resolve(closing).catch((error: unknown) =>
        reply.log.warn({ err: error }, 'live stream failed to close'),
      );
    } else {
      await closing;
    }
    raw.end();
  }
}

/** Frames by event: followers of one read model get the same event object, framed once. */
const frames = new WeakMap<LiveEvent, string>();

/** One event in the SSE format; ids and names lose line breaks, which would end their field. */
function frame(event: LiveEvent): string {
  const made = frames.get(event);
  if (made !== undefined) return made;
  const lines: string[] = [];
  if (event.id !== undefined) lines.push(`id: ${event.id.replaceAll(/[\r\n]/g, '')}`);
  if (event.event !== undefined) lines.push(`event: ${event.event.replaceAll(/[\r\n]/g, '')}`);
  lines.push(`data: ${JSON.stringify(event.data)}`); // JSON has no raw line breaks
  const text = `${lines.join('\n')}\n\n`;
  frames.set(event, text);
  return text;
}
