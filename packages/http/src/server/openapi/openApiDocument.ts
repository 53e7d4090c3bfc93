// The API's OpenAPI 3.1 document, generated from the route declarations and the messages' schemas, and a
// reference page that renders it. Everything a caller can observe is documented from the same facts the server
// acts on: which fields come from the path, the query string or the body, which the server fills in itself, the
// headers each kind of route reads and writes, and the problems it may answer with.
import { type Application, type AuthorizationPolicy, statusTitles } from '@myelin/core';
import { type AnyRoute, hasBody, pathParams, type RequestParts, successStatus } from '../../client/route.ts';
import type { MyelinHttpOptions } from '../myelinHttp.ts';
import { problemContentType } from '../problems.ts';
import { isObject, type Json } from './json.ts';
import { SchemaRegistry } from './schemaRegistry.ts';

export interface OpenApiOptions {
  /** `info.title`; defaults to 'Myelin API'. */
  readonly title?: string;
  /** `info.version`, the version of the API (not of OpenAPI); defaults to '0.1.0'. */
  readonly version?: string;
  /** `info.description` (CommonMark). */
  readonly description?: string;
  /** Where the API is served; defaults to `/`, the origin the document came from. */
  readonly servers?: readonly { readonly url: string; readonly description?: string }[];
  /** `info.license`: the API's terms (an SPDX `identifier`, or a `url`). */
  readonly license?: { readonly name: string; readonly identifier?: string; readonly url?: string };
  /** Where the document is served; defaults to '/openapi.json'. */
  readonly path?: string;
  /** Where the reference page is served; defaults to '/docs'. */
  readonly docsPath?: string;
}

export const defaultTitle = 'Myelin API';
const defaultDevTokenPath = '/api/auth/token';
const positionPattern = '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$';

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

const problemSchema: Json = {
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

const headers: Json = {
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

/**
 * The OpenAPI 3.1 document of an API: one operation per route, plus the development token issuer and the health
 * endpoints when the plugin serves them. Pure: it reads the declarations and the application's policies only.
 */
export function openApiDocument(
  app: Application,
  routes: Readonly<Record<string, AnyRoute>>,
  options: MyelinHttpOptions,
): Record<string, unknown> {
  const openapi: OpenApiOptions = options.openapi === false ? {} : (options.openapi ?? {});
  const auth = options.auth !== undefined;
  const idempotency = options.idempotency !== false;
  const schemas = new SchemaRegistry();
  const usedProblems = new Set<number>();
  const operationIds = new Map<string, string>();
  const paths: Record<string, Record<string, Json>> = {};

  const addOperation = (path: string, method: string, operation: Json, owner: string): void => {
    const id = operation.operationId;
    if (typeof id === 'string') {
      const other = operationIds.get(id);
      if (other !== undefined) throw new TypeError(`${other} and ${owner} both have the operationId '${id}'`);
      operationIds.set(id, owner);
    }
    const item = (paths[path] ??= {});
    item[method.toLowerCase()] = operation;
  };
  const problems = (statuses: Iterable<number>): Json => {
    const responses: Json = {};
    for (const status of [...new Set(statuses)].sort((a, b) => a - b)) {
      usedProblems.add(status);
      responses[String(status)] = { $ref: `#/components/responses/${problemResponseName(status)}` };
    }
    return responses;
  };

  for (const [name, route] of Object.entries(routes)) {
    const message = route.message;
    const policy = app.policyOf(message);
    const open = policy === undefined || policy.anonymous === true;
    const isCommand = message.kind === 'command';
    const payload = schemas.message(message);
    const fields = payload?.properties ?? {};
    const inPath = pathParams(route.path);
    const filled = filledFields(route);
    const ifMatch = route.options.ifMatch;
    // Fields the caller does not send as fields: the path carries some, the server fills others, If-Match one.
    const omitted = new Set([...inPath, ...filled, ...(ifMatch === undefined ? [] : [ifMatch])]);

    const parameters: Json[] = inPath.map((param) => ({
      name: param,
      in: 'path',
      required: true,
      schema: fields[param] ?? { type: 'string' },
      ...descriptionOf(fields[param]),
    }));
    let requestBody: Json | undefined;
    if (hasBody(route.method)) {
      // The server reads a missing body as `{}`: a body is required only when a field in it is, and a message
      // whose fields all come from elsewhere (the path, the principal) has none to describe.
      const bodyFields = Object.keys(fields).filter((field) => !omitted.has(field));
      if (bodyFields.length > 0 || payload === undefined) {
        requestBody = {
          required: bodyFields.some((field) => payload?.required.includes(field) ?? false),
          content: { 'application/json': { schema: schemas.bodyOf(message, payload, omitted) } },
        };
      }
    } else {
      for (const [field, schema] of Object.entries(fields)) {
        if (omitted.has(field)) continue;
        parameters.push({
          name: field,
          in: 'query',
          required: payload?.required.includes(field) ?? false,
          schema,
          ...descriptionOf(schema),
        });
      }
    }
    if (ifMatch !== undefined) {
      parameters.push({
        name: 'If-Match',
        in: 'header',
        required: false,
        description: `The version this write expects, as the ETag of a read gave it; a stale one is refused with 412`,
        schema: { type: 'string' },
      });
    }
    const etag = route.options.etag !== undefined;
    // The server answers If-None-Match only on reads: a write's ETag is there to be sent back as If-Match.
    const conditional = etag && route.method === 'GET';
    if (conditional) {
      parameters.push({
        name: 'If-None-Match',
        in: 'header',
        required: false,
        description: 'The ETag of a copy the caller has; 304 when it is still current',
        schema: { type: 'string' },
      });
    }
    if (isCommand && idempotency) {
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description:
          'A unique key for this intent: a retry with the same key and request gets the first response again ' +
          'instead of acting twice',
        schema: { type: 'string', minLength: 1 },
      });
    }
    if (message.kind === 'query') {
      parameters.push({
        name: 'Myelin-Position',
        in: 'header',
        required: false,
        description:
          "A log position a command's response gave: the answer reflects at least every write up to it " +
          '(read your own writes)',
        schema: { type: 'string', pattern: positionPattern },
      });
    }

    const status = successStatus(route);
    const successHeaders: Json = {};
    if (status === 201) successHeaders.Location = { $ref: '#/components/headers/Location' };
    if (etag) successHeaders.ETag = { $ref: '#/components/headers/ETag' };
    if (isCommand) successHeaders['Myelin-Position'] = { $ref: '#/components/headers/Myelin-Position' };
    if (isCommand && idempotency) {
      successHeaders['Idempotent-Replayed'] = { $ref: '#/components/headers/Idempotent-Replayed' };
    }
    const success: Json = { description: statusTitles[status] ?? successTitles[status] ?? 'Success' };
    if (Object.keys(successHeaders).length > 0) success.headers = successHeaders;
    if (status !== 204) success.content = { 'application/json': { schema: schemas.result(message) ?? {} } };
    const responses: Json = { [String(status)]: success };
    if (conditional) {
      responses['304'] = {
        description: 'Not Modified: the copy named by If-None-Match is current',
        headers: { ETag: { $ref: '#/components/headers/ETag' } },
      };
    }

    const failures = [400, 500, ...(route.options.problems ?? [])];
    // A presented token that is not valid is refused on every route, even one anonymous callers may use.
    if (!open || auth) failures.push(401);
    if (
      policy !== undefined &&
      policy.anonymous !== true &&
      (policy.roles !== undefined || policy.allow !== undefined)
    ) {
      failures.push(403);
    }
    if (ifMatch !== undefined) failures.push(412);
    if (isCommand && idempotency) failures.push(422);
    Object.assign(responses, problems(failures));

    const description = [route.options.description ?? message.options.description, accessNote(policy)].filter(
      (part) => part !== undefined && part !== '',
    );
    const operation: Json = { operationId: route.options.operationId ?? name };
    // A summary is what reference pages list operations by: without one, they show the bare path.
    operation.summary = route.options.summary ?? humanize(name);
    if (description.length > 0) operation.description = description.join('\n\n');
    if (route.options.tags !== undefined) operation.tags = [...route.options.tags];
    // With auth configured, every operation says what it needs; one that needs nothing says so (`[]`).
    if (auth) operation.security = open ? [{}, { bearer: [] }] : [{ bearer: [] }];
    if (parameters.length > 0) operation.parameters = parameters;
    if (requestBody !== undefined) operation.requestBody = requestBody;
    operation.responses = responses;
    addOperation(route.path, route.method, operation, `route '${name}'`);
  }

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

  const info: Json = { title: openapi.title ?? defaultTitle, version: openapi.version ?? '0.1.0' };
  if (openapi.description !== undefined) info.description = openapi.description;
  if (openapi.license !== undefined) info.license = { ...openapi.license };
  const responses: Json = {};
  for (const status of [...usedProblems].sort((a, b) => a - b)) {
    responses[problemResponseName(status)] = {
      description: problemDescriptions[status] ?? statusTitles[status] ?? `A problem (${status})`,
      content: { [problemContentType]: { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  const components: Json = {
    schemas: { ...schemas.schemas, Problem: problemSchema },
    responses,
    headers,
  };
  if (auth) components.securitySchemes = { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } };

  const document: Json = { openapi: '3.1.0', info };
  document.servers = (openapi.servers ?? [{ url: '/' }]).map((server) => ({ ...server }));
  document.paths = paths;
  document.components = components;
  pruneUnusedSchemas(document);
  return document;
}

/**
 * Drops the component schemas nothing refers to: a query's message schema, say, whose fields all became
 * parameters. A schema is kept when an operation refers to it, directly or through other schemas.
 */
function pruneUnusedSchemas(document: Json): void {
  const components = document.components as Json;
  const schemas = components.schemas as Record<string, unknown>;
  const prefix = '#/components/schemas/';
  const used = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
    } else if (isObject(value)) {
      const ref = value.$ref;
      if (typeof ref === 'string' && ref.startsWith(prefix)) {
        // A reference may point inside a schema (`…/schemas/Name/properties/x`): the schema is its first segment.
        const segment = ref.slice(prefix.length).split('/')[0] ?? '';
        const name = decodeURIComponent(segment).replaceAll('~1', '/').replaceAll('~0', '~');
        if (!used.has(name)) {
          used.add(name);
          visit(schemas[name]);
        }
      }
      for (const [key, inner] of Object.entries(value)) if (key !== '$ref') visit(inner);
    }
  };
  visit(document.paths);
  visit(components.responses);
  visit(components.headers);
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
}

const successTitles: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
};

/** `placeOrder` → `Place order`. */
function humanize(name: string): string {
  const words = name
    .replaceAll(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replaceAll(/[_-]+/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function problemResponseName(status: number): string {
  const title = statusTitles[status];
  return title === undefined ? `Problem${status}` : title.replaceAll(/[^A-Za-z0-9]/g, '');
}

function descriptionOf(schema: unknown): { description?: string } {
  const description = isObject(schema) ? schema.description : undefined;
  return typeof description === 'string' ? { description } : {};
}

/** Who may call, in words, for the operation's description. */
function accessNote(policy: AuthorizationPolicy | undefined): string | undefined {
  if (policy === undefined || policy.anonymous === true) return undefined;
  const parts = [
    policy.roles === undefined
      ? 'Requires a signed-in caller.'
      : `Requires one of the roles: ${policy.roles.join(', ')}.`,
  ];
  if (policy.allow !== undefined) parts.push('Further checks may refuse a particular request (403).');
  return parts.join(' ');
}

/**
 * The fields a route's `with` fills in. Its keys cannot be known from the types at run time, so it is asked once
 * with an empty request; a `with` that cannot answer one is assumed to fill nothing.
 */
function filledFields(route: AnyRoute): string[] {
  const fill = route.options.with;
  if (fill === undefined) return [];
  const dummy: RequestParts = { params: {}, query: {}, headers: {}, principal: { subject: '', roles: [] } };
  try {
    const filled: unknown = fill(dummy);
    return isObject(filled) ? Object.keys(filled) : [];
  } catch {
    return [];
  }
}
