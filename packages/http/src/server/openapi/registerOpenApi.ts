import type { Application } from '@myelin/core';
import type { FastifyInstance } from 'fastify';
import type { AnyRoute } from '../../client/route.ts';
import type { MyelinHttpOptions } from '../myelinHttp.ts';
import { registerDocsPage } from './docsPage.ts';
import { defaultTitle, type OpenApiOptions, openApiDocument } from './openApiDocument.ts';

/**
 * Serves the document at `path` (default `/openapi.json`) and the reference page at `docsPath` (default `/docs`).
 */
export function registerOpenApi(
  fastify: FastifyInstance,
  app: Application,
  routes: Readonly<Record<string, AnyRoute>>,
  options: MyelinHttpOptions,
): void {
  const openapi: OpenApiOptions = options.openapi === false ? {} : (options.openapi ?? {});
  const path = openapi.path ?? '/openapi.json';
  const docsPath = openapi.docsPath ?? '/docs';
  // Built now rather than at the first request, so that a mistake in the declarations (two routes with one
  // operationId) stops the server from starting instead of breaking the documentation later.
  const document = openApiDocument(app, routes, options);
  const json = JSON.stringify(document);
  const title = openapi.title ?? defaultTitle;

  fastify.get(path, async (_request, reply) => reply.type('application/json; charset=utf-8').send(json));

  registerDocsPage(fastify, docsPath, title, path, document);
}
