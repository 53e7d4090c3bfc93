// The API's OpenAPI 3.1 document, generated from the route declarations and the messages' schemas. Everything a caller can observe is documented from the same facts the server
// acts on: which fields come from the path, the query string or the body, which the server fills in itself, the
// headers each kind of route reads and writes, and the problems it may answer with.
import type { Application } from '@myelin/core';
import type { AnyRoute } from '../../client/route.ts';
import type { MyelinHttpOptions } from '../myelinHttp.ts';
import { addBuiltInOperations } from './builtInOperations.ts';
import { headers, problemResponseName, problemResponses, problemSchema } from './components.ts';
import { isObject, type Json } from './json.ts';
import { type OperationContext, routeOperation } from './routeOperation.ts';
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

  const context: OperationContext = { app, schemas, auth, idempotency, problems };
  for (const [name, route] of Object.entries(routes)) {
    addOperation(route.path, route.method, routeOperation(name, route, context), `route '${name}'`);
  }
  addBuiltInOperations(options, addOperation, problems);

  const info: Json = { title: openapi.title ?? defaultTitle, version: openapi.version ?? '0.1.0' };
  if (openapi.description !== undefined) info.description = openapi.description;
  if (openapi.license !== undefined) info.license = { ...openapi.license };
  const components: Json = {
    schemas: { ...schemas.schemas, Problem: problemSchema },
    responses: problemResponses(usedProblems),
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
