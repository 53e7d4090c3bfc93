import { type Application, command, query } from '@myelin/core';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { get, post, routes } from '../../client/route.ts';
import { api, auth, testApplication, testServer } from '../../testing/testApi.ts';
import { openApiDocument } from './openApiDocument.ts';

type Json = Record<string, any>;

const servers: FastifyInstance[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});
async function open(options: Parameters<typeof testServer>[0] = {}) {
  const { server } = await testServer(options);
  servers.push(server);
  return server;
}
async function served(options: Parameters<typeof testServer>[0] = {}): Promise<Json> {
  const res = await (await open(options)).inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.json();
}

async function expectValid(document: Json): Promise<void> {
  const result = await new Validator().validate(document);
  if (!result.valid) console.error(JSON.stringify(result.errors, null, 2));
  expect(result.valid).toBe(true);
  expect(unresolvedRefs(document)).toEqual([]);
}

/** Every local `$ref` that does not point at something in the document. */
function unresolvedRefs(document: Json): string[] {
  const missing: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (key === '$ref' && typeof item === 'string' && resolve(document, item) === undefined)
          missing.push(item);
        else visit(item);
      }
    }
  };
  visit(document);
  return missing;
}
function resolve(document: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = document;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = typeof node === 'object' && node !== null ? (node as Json)[key] : undefined;
  }
  return node;
}
const param = (operation: Json, location: string, name: string): Json | undefined =>
  (operation.parameters as Json[] | undefined)?.find((p) => p.in === location && p.name === name);
const bodySchema = (document: Json, operation: Json): Json => {
  const schema = operation.requestBody.content['application/json'].schema;
  return schema.$ref === undefined ? schema : (resolve(document, schema.$ref) as Json);
};

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document, served at /openapi.json', async () => {
    const document = await served({ devTokens: { users: [{ username: 'a', password: 'b', roles: [] }] } });
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toEqual({ title: 'Myelin API', version: '0.1.0' });
    await expectValid(document);
  });

  it('has one operation per route, named by its key, plus health and readiness', async () => {
    const document = await served();
    const ids = Object.values(document.paths as Json).flatMap((item) =>
      Object.values(item as Json).map((operation) => (operation as Json).operationId),
    );
    expect(ids.sort()).toEqual(
      ['crash', 'deleteNote', 'editNote', 'getNote', 'health', 'listNotes', 'ready', 'writeNote'].sort(),
    );
    expect(document.paths['/notes/{id}']).toHaveProperty('get.operationId', 'getNote');
    expect(document.paths['/notes/{id}']).toHaveProperty('put.operationId', 'editNote');
    expect(document.paths['/notes/{id}']).toHaveProperty('delete.operationId', 'deleteNote');
    expect(document.paths['/ready'].get.responses).toHaveProperty('503');
    // The write's body is inlined without the fields the server fills: its message schema, referred to by
    // nothing, is not left among the components.
    expect(document.components.schemas).not.toHaveProperty(['test.writeNote']);
    expect(document.servers).toEqual([{ url: '/' }]);
  });

  it('documents a read of one resource: path parameter, ETag, If-None-Match and 304, read-your-writes', async () => {
    const document = await served();
    const getNote = document.paths['/notes/{id}'].get;
    expect(param(getNote, 'path', 'id')).toMatchObject({ required: true, schema: { type: 'string' } });
    expect(param(getNote, 'header', 'If-None-Match')).toMatchObject({ required: false });
    expect(param(getNote, 'header', 'Myelin-Position')).toMatchObject({ required: false });
    expect(param(getNote, 'query', 'id')).toBeUndefined();
    expect(getNote.responses['200'].headers.ETag).toEqual({ $ref: '#/components/headers/ETag' });
    expect(getNote.responses['200'].content['application/json']).toBeDefined();
    expect(getNote.responses).toHaveProperty('304');
    expect(Object.keys(getNote.responses).sort()).toEqual(['200', '304', '400', '401', '404', '500']);
    // Anyone may read; a signed-in caller may still send a token.
    expect(getNote.security).toEqual([{}, { bearer: [] }]);
    expect(document.components.securitySchemes).toEqual({
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    });
  });

  it('turns the other fields of a GET into query parameters', async () => {
    const listNotes = (await served()).paths['/notes'].get;
    expect(param(listNotes, 'query', 'tag')).toMatchObject({ required: false, schema: { type: 'string' } });
    expect(param(listNotes, 'query', 'limit')).toMatchObject({
      required: false,
      schema: { type: 'integer' },
    });
    expect(listNotes.requestBody).toBeUndefined();
  });

  it('leaves the fields the server fills out of a body, and documents what a command adds', async () => {
    const document = await served();
    const writeNote = document.paths['/notes'].post;
    expect(writeNote.requestBody.required).toBe(true);
    const body = bodySchema(document, writeNote);
    expect(Object.keys(body.properties).sort()).toEqual(['id', 'tags', 'text']);
    expect(body.required.sort()).toEqual(['id', 'text']);
    const created = writeNote.responses['201'];
    expect(created.headers.Location).toEqual({ $ref: '#/components/headers/Location' });
    expect(created.headers).toHaveProperty(['Myelin-Position']);
    expect(param(writeNote, 'header', 'Idempotency-Key')).toMatchObject({ required: false });
    expect(Object.keys(writeNote.responses).sort()).toEqual([
      '201',
      '400',
      '401',
      '403',
      '409',
      '422',
      '500',
    ]);
    expect(writeNote.description).toBe('Requires one of the roles: writer, editor.');
    expect(writeNote.summary).toBe('Write note');
  });

  it('documents If-Match as a header, not as the field it fills', async () => {
    const document = await served();
    const editNote = document.paths['/notes/{id}'].put;
    expect(param(editNote, 'header', 'If-Match')).toMatchObject({ required: false });
    expect(param(editNote, 'path', 'id')).toMatchObject({ required: true });
    const body = bodySchema(document, editNote);
    expect(Object.keys(body.properties)).toEqual(['text']);
    expect(body.required).toEqual(['text']);
    expect(editNote.responses).toHaveProperty('412');
  });

  it('documents problems and the security a role-restricted command needs', async () => {
    const document = await served();
    const deleteNote = document.paths['/notes/{id}'].delete;
    expect(deleteNote.security).toEqual([{ bearer: [] }]);
    expect(deleteNote.description).toContain('Requires one of the roles: editor');
    expect(deleteNote.responses['204']).not.toHaveProperty('content');
    for (const status of ['400', '401', '403', '404', '500']) {
      const ref = deleteNote.responses[status].$ref;
      expect(ref).toMatch(/^#\/components\/responses\//);
      expect(resolve(document, ref)).toMatchObject({
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      });
    }
    expect(document.components.schemas.Problem.properties).toHaveProperty('errors');
    expect(document.components.schemas.Problem.properties).toHaveProperty('correlationId');
  });

  it('documents the development token issuer when it is on', async () => {
    const document = await served({ devTokens: { users: [], path: '/login' } });
    const issue = document.paths['/login'].post;
    expect(issue.operationId).toBe('issueDevToken');
    expect(bodySchema(document, issue).required).toEqual(['username', 'password']);
    expect(issue.responses['200'].content['application/json'].schema.required).toContain('accessToken');
    expect(Object.keys(issue.responses).sort()).toEqual(['200', '400', '401']);
    expect((await served()).paths).not.toHaveProperty(['/api/auth/token']);
  });

  it('takes its title, version, description and servers from the options', async () => {
    const app = await testApplication();
    const document = openApiDocument(app, api, {
      app,
      routes: api,
      health: false,
      openapi: { title: 'Notes', version: '2.0.0', description: 'Notes.', servers: [{ url: '/v2' }] },
    });
    await app.dispose();
    expect(document.info).toEqual({ title: 'Notes', version: '2.0.0', description: 'Notes.' });
    expect(document.servers).toEqual([{ url: '/v2' }]);
    expect(document.paths).not.toHaveProperty(['/health']);
    // Without auth there is nothing to sign in with: no scheme, no requirements.
    expect(document.components).not.toHaveProperty('securitySchemes');
    expect((document.paths as Json)['/notes/{id}'].delete).not.toHaveProperty('security');
    await expectValid(document);
  });

  it('hoists schema definitions into components and documents result schemas', async () => {
    interface Tree {
      name: string;
      children: Tree[];
    }
    const TreeSchema: z.ZodType<Tree> = z.object({
      name: z.string(),
      get children() {
        return z.array(TreeSchema);
      },
    });
    const Plant = command('garden:plant', z.object({ left: TreeSchema, right: TreeSchema })).returns(
      z.object({ planted: z.number().int() }),
    );
    const Look = query('garden.look', z.object({ at: z.string() }), {
      description: 'Looks.',
    }).returns<void>();
    const garden = routes({
      plant: post('/plant', Plant, { operationId: 'plantTrees', summary: 'Plant', tags: ['garden'] }),
      look: get('/look/{at}', Look),
    });
    const app = { policyOf: () => undefined } as unknown as Application;
    const document = openApiDocument(app, garden, { app, routes: garden, auth });
    await expectValid(document);
    const schemas = document.components as Json;
    expect(Object.keys(schemas.schemas)).toContain('garden_plant');
    const plant = (document.paths as Json)['/plant'].post;
    expect(plant).toMatchObject({ operationId: 'plantTrees', summary: 'Plant', tags: ['garden'] });
    expect(plant.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/garden_plant',
    });
    const left = schemas.schemas.garden_plant.properties.left.$ref;
    expect(resolve(document, left)).toHaveProperty('properties.children.items.$ref', left);
    const result = resolve(document, plant.responses['201'].content['application/json'].schema.$ref);
    expect(result).toHaveProperty('properties.planted.type', 'integer');
    const look = (document.paths as Json)['/look/{at}'].get;
    expect(look.description).toBe('Looks.');
    expect(look.security).toEqual([{}, { bearer: [] }]);
  });

  it('shares a result schema given an id between every operation that returns it, as one component', async () => {
    const Bed = z.object({ id: z.string(), plants: z.array(z.string()) }).meta({ id: 'GardenBed' });
    const Dig = command('garden.dig', z.object({ id: z.string() })).returns(Bed);
    const Sow = command('garden.sow', z.object({ id: z.string(), seed: z.string() })).returns(Bed);
    const List = query('garden.beds', z.object({})).returns(z.object({ items: z.array(Bed) }));
    const garden = routes({
      dig: post('/beds', Dig),
      sow: post('/beds/{id}/seeds', Sow),
      list: get('/beds', List),
    });
    const app = { policyOf: () => undefined } as unknown as Application;
    const document = openApiDocument(app, garden, { app, routes: garden, auth });
    await expectValid(document);
    const schemas = (document.components as Json).schemas as Json;
    expect(Object.keys(schemas).filter((name) => name.includes('GardenBed'))).toEqual(['GardenBed']);
    const paths = document.paths as Json;
    const dig = paths['/beds'].post.responses['201'].content['application/json'].schema;
    expect(resolve(document, dig.$ref)).toEqual(schemas.GardenBed);
    const list = resolve(
      document,
      paths['/beds'].get.responses['200'].content['application/json'].schema.$ref,
    );
    expect(list).toHaveProperty('properties.items.items.$ref', '#/components/schemas/GardenBed');
  });

  it('requires a body only when a field in it is required, and documents none when no field is left', async () => {
    const Water = command('garden.water', z.object({ bed: z.string(), litres: z.number().optional() }));
    const Harvest = command('garden.harvest', z.object({ bed: z.string(), by: z.string() }));
    const garden = routes({
      water: post('/beds/{bed}/water', Water),
      harvest: post('/beds/{bed}/harvest', Harvest, { with: () => ({ by: 'the server' }) }),
    });
    const app = { policyOf: () => undefined } as unknown as Application;
    const document = openApiDocument(app, garden, { app, routes: garden });
    await expectValid(document);
    const paths = document.paths as Json;
    expect(paths['/beds/{bed}/water'].post.requestBody).toMatchObject({ required: false });
    expect(paths['/beds/{bed}/harvest'].post.requestBody).toBeUndefined();
  });

  it('refuses two operations with one operationId', async () => {
    const app = await testApplication();
    const twice = { ...api, listNotes: get('/all-notes', api.listNotes.message, { operationId: 'getNote' }) };
    expect(() => openApiDocument(app, twice, { app, routes: twice })).toThrow(/operationId 'getNote'/);
    await app.dispose();
  });

  it('is not served when turned off', async () => {
    const server = await open({ openapi: false });
    expect((await server.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(404);
    expect((await server.inject({ method: 'GET', url: '/docs' })).statusCode).toBe(404);
  });
});

describe('the reference page', () => {
  it('renders the document with Scalar, served from this server', async () => {
    const server = await open();
    const page = await server.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<script src="/docs/scalar.js"></script>');
    expect(page.body).toContain('"url":"/openapi.json"');
    expect(page.body).not.toMatch(/https?:\/\//);
    const script = await server.inject({ method: 'GET', url: '/docs/scalar.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.body).toContain('createApiReference');
  });

  it('is served where the options say', async () => {
    const server = await open({ openapi: { path: '/api/spec.json', docsPath: '/api/docs', title: 'A <b>' } });
    expect((await server.inject({ method: 'GET', url: '/api/spec.json' })).statusCode).toBe(200);
    const page = await server.inject({ method: 'GET', url: '/api/docs' });
    expect(page.body).toContain('"url":"/api/spec.json"');
    expect(page.body).toContain('src="/api/docs/scalar.js"');
    expect(page.body).toContain('<title>A &#60;b&#62;</title>');
    expect((await server.inject({ method: 'GET', url: '/api/docs/scalar.js' })).statusCode).toBe(200);
  });
});
