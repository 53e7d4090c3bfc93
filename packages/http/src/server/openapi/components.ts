// The document's shared parts: the problem details schema, the problem responses every operation refers to, and
// the response headers Myelin writes.
import { statusTitles } from '@myelin/core';
import { problemContentType } from '../problems.ts';
import type { Json } from './json.ts';

export const positionPattern = '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$';

/** What each problem status means here, beyond its title. */
const problemDescriptions: Readonly<Record<number, string>> = {
  400: 'The request is not a valid message; `errors` names each field that is wrong',
  401: 'No valid bearer token: sign in, or send a token that is not expired',
  403: 'The caller is signed in but not allowed to do this',
  404: 'There is no such resource',
  409: 'The request conflicts with the current state',
  412: 'The version named by If-Match is not the current one: read again, then retry',
  422: 'The Idempotency-Key was already used for a different request',
  500: 'An unexpected error; `correlationId` names it for the operators',
  503: 'The service cannot answer now',
};

export const problemSchema: Json = {
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: {
    type: { type: 'string', format: 'uri-reference', default: 'about:blank' },
    title: { type: 'string', description: 'Short, human-readable summary of the problem type' },
    status: { type: 'integer', minimum: 100, maximum: 599 },
    detail: { type: 'string', description: 'What went wrong this time, for a person' },
    instance: { type: 'string', format: 'uri-reference', description: 'The request the problem is about' },
    errors: {
      type: 'array',
      description: 'One entry per field that failed validation',
      items: {
        type: 'object',
        properties: {
          field: { type: 'string', description: 'The field, as `items[0].name`' },
          pointer: {
            type: 'string',
            description: 'The field as a JSON Pointer fragment, as `#/items/0/name`',
          },
          detail: { type: 'string' },
        },
        required: ['field', 'pointer', 'detail'],
      },
    },
    correlationId: { type: 'string', description: 'Quote it when reporting an unexpected error' },
  },
  required: ['type', 'title', 'status'],
};

export const headers: Json = {
  Location: {
    description: 'Where the created resource lives',
    schema: { type: 'string', format: 'uri-reference' },
  },
  ETag: {
    description: 'The version of the resource; send it back as If-None-Match (reads) or If-Match (writes)',
    schema: { type: 'string' },
  },
  'Myelin-Position': {
    description:
      "The log position of the command's write, when it wrote; send it as the Myelin-Position header of a " +
      'query to read your own writes',
    schema: { type: 'string', pattern: positionPattern },
  },
  'Idempotent-Replayed': {
    description:
      "'true' when this is the stored response to an earlier request with the same Idempotency-Key",
    schema: { type: 'string', enum: ['true'] },
  },
};

/** The name of a problem status's shared response (`NotFound`). */
export function problemResponseName(status: number): string {
  const title = statusTitles[status];
  return title === undefined ? `Problem${status}` : title.replaceAll(/[^A-Za-z0-9]/g, '');
}

/** The shared responses of the problem statuses operations used. */
export function problemResponses(statuses: Iterable<number>): Json {
  const responses: Json = {};
  for (const status of [...statuses].sort((a, b) => a - b)) {
    responses[problemResponseName(status)] = {
      description: problemDescriptions[status] ?? statusTitles[status] ?? `A problem (${status})`,
      content: { [problemContentType]: { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return responses;
}
