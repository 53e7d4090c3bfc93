// The correlation id of a request: the client's X-Correlation-Id when it is a usable one, else a new UUID. One
// function, so that Fastify's request id (its log lines' `reqId`) and Myelin's correlation id are the same.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { correlationHeader } from '../client/route.ts';

const usable = /^[\w.:-]{1,128}$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function correlationIdOf(request: IncomingMessage): string {
  const given = request.headers[correlationHeader];
  return typeof given === 'string' && usable.test(given) ? given : randomUUID();
}

/**
 * Whether a Fastify request id is a new id `correlationIdOf` made (a client's own id reads the same from its
 * header). Fastify's default ids (`req-1`) are not: they repeat in every process, so they correlate nothing.
 */
export function isCorrelationId(id: string): boolean {
  return uuid.test(id);
}
