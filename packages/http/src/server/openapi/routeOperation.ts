// One route's operation: its parameters (path, query, the headers its kind of route reads), its body, and its
// responses (the success with the result's schema and the headers written, then every problem it may answer).
import type { Application, AuthorizationPolicy } from '@myelin/core';
import { statusTitles } from '@myelin/core';
import { type AnyRoute, hasBody, pathParams, type RequestParts, successStatus } from '../../client/route.ts';
import { positionPattern } from './components.ts';
import { isObject, type Json } from './json.ts';
import type { SchemaRegistry } from './schemaRegistry.ts';

/** What building an operation needs besides its route. */
export interface OperationContext {
  readonly app: Application;
  readonly schemas: SchemaRegistry;
  /** Whether the API authenticates (bearer tokens), and whether commands take an Idempotency-Key. */
  readonly auth: boolean;
  readonly idempotency: boolean;
  /** The responses of these problem statuses, as references to the shared ones. */
  problems(statuses: Iterable<number>): Json;
}

/** The OpenAPI operation of a route, named after its key in the routes. */
export function routeOperation(name: string, route: AnyRoute, context: OperationContext): Json {
  const { app, schemas, auth, idempotency } = context;
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

  const responses = responsesOf(route, context);

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
  return operation;
}

/** The success (with the result's schema and the headers written), 304 for a conditional read, and the problems. */
function responsesOf(route: AnyRoute, context: OperationContext): Json {
  const { app, schemas, auth, idempotency, problems } = context;
  const message = route.message;
  const policy = app.policyOf(message);
  const open = policy === undefined || policy.anonymous === true;
  const isCommand = message.kind === 'command';
  const ifMatch = route.options.ifMatch;
  const etag = route.options.etag !== undefined;
  const conditional = etag && route.method === 'GET';
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
  return responses;
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
