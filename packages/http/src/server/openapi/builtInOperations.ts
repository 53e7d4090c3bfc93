// The operations Myelin serves besides the routes: the development token issuer and the health endpoints.
import type { MyelinHttpOptions } from '../myelinHttp.ts';
import { problemContentType } from '../problems.ts';
import type { Json } from './json.ts';

const defaultDevTokenPath = '/api/auth/token';

/** Adds an operation to the document's paths (refusing a second with the same operationId). */
export type AddOperation = (path: string, method: string, operation: Json, owner: string) => void;

/** Adds the operations the options turn on: the token issuer (development) and /health and /ready. */
export function addBuiltInOperations(
  options: MyelinHttpOptions,
  addOperation: AddOperation,
  problems: (statuses: Iterable<number>) => Json,
): void {
  const auth = options.auth !== undefined;
  if (options.devTokens !== undefined) {
    addOperation(
      options.devTokens.path ?? defaultDevTokenPath,
      'POST',
      {
        operationId: 'issueDevToken',
        summary: 'Sign in (development only)',
        security: [],
        description:
          'Issues a bearer token for one of the configured development users. Send it as ' +
          '`Authorization: Bearer <accessToken>`. Never enabled where real users are.',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  username: { type: 'string', minLength: 1 },
                  password: { type: 'string', minLength: 1 },
                },
                required: ['username', 'password'],
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'A signed token',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    accessToken: { type: 'string' },
                    tokenType: { type: 'string', const: 'Bearer' },
                    expiresIn: { type: 'integer', description: 'Seconds until the token expires' },
                    roles: { type: 'array', items: { type: 'string' } },
                  },
                  required: ['accessToken', 'tokenType', 'expiresIn', 'roles'],
                },
              },
            },
          },
          ...problems([400, 401]),
        },
      },
      'the development token issuer',
    );
  }

  if (options.health !== false) {
    // What any request may get before it reaches a route: Myelin answers these as problem details too.
    const unreadable = {
      '4XX': {
        description:
          'A request the server cannot read: malformed, headers too large (431), or too slow (408)',
        content: { [problemContentType]: { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    };
    addOperation(
      '/health',
      'GET',
      {
        operationId: 'health',
        summary: 'Liveness',
        description: 'The process is alive and serving.',
        ...(auth ? { security: [] } : {}),
        responses: {
          ...unreadable,
          '200': {
            description: 'Alive',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { status: { type: 'string', const: 'ok' } },
                  required: ['status'],
                },
              },
            },
          },
        },
      },
      'the health endpoint',
    );
    const readiness = {
      'application/json': {
        schema: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['ready', 'unready', 'stopping'] },
            checks: {
              type: 'array',
              items: {
                type: 'object',
                properties: { name: { type: 'string' }, ok: { type: 'boolean' }, detail: {} },
                required: ['name', 'ok'],
              },
            },
          },
          required: ['status', 'checks'],
        },
      },
    };
    addOperation(
      '/ready',
      'GET',
      {
        operationId: 'ready',
        summary: 'Readiness',
        description:
          'Every readiness check passes: send traffic here. A stopping process turns unready at once.',
        ...(auth ? { security: [] } : {}),
        responses: {
          ...unreadable,
          '200': { description: 'Ready', content: readiness },
          '503': { description: 'Not ready: `checks` says which failed', content: readiness },
        },
      },
      'the readiness endpoint',
    );
  }
}
