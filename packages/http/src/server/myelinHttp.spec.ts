import { createApplication, query } from '@myelin/core';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { get, routes } from '../client/route.ts';
import { auth, testServer } from '../testing/testApi.ts';
import { issueToken } from './devTokens.ts';
import { createServer } from './server.ts';

const servers: FastifyInstance[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});
async function open(options: Parameters<typeof testServer>[0] = {}): Promise<FastifyInstance> {
  const { server } = await testServer(options);
  servers.push(server);
  return server;
}
async function bearer(roles: readonly string[], subject = 'alice'): Promise<string> {
  return `Bearer ${await issueToken(auth, { username: subject, password: '', roles }, 60)}`;
}
const problemJson = 'application/problem+json; charset=utf-8';

describe('routes bound to messages', () => {
  it('refuses to start when a route is bound to a message nothing handles, naming the route', async () => {
    const Orphan = query('test.orphan', z.object({ id: z.string() })).returns<string>();
    const app = await createApplication().build();
    const start = createServer({
      app,
      routes: routes({ orphan: get('/orphans/{id}', Orphan) }),
      fastify: { logger: false },
    });
    await expect(start).rejects.toThrow(
      "These routes are bound to messages the application has no handler for: orphan (query 'test.orphan')",
    );
    await app.dispose();
  });

  it('answers a create with 201, Location, the body and the log position; a read with 200 and an ETag', async () => {
    const server = await open();
    const authorization = await bearer(['writer']);
    const created = await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization },
      payload: { id: 'n1', text: 'hi', tags: ['a'] },
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe('/notes/n1');
    expect(created.headers['content-type']).toBe('application/json; charset=utf-8');
    // The principal fills `author`; the caller cannot.
    expect(created.json()).toEqual({ id: 'n1', text: 'hi', tags: ['a'], version: 1, author: 'alice' });

    const read = await server.inject({ method: 'GET', url: '/notes/n1' });
    expect(read.statusCode).toBe(200);
    expect(read.headers.etag).toBe('"1"');
    expect(read.json()).toMatchObject({ id: 'n1', version: 1 });
    const same = await server.inject({
      method: 'GET',
      url: '/notes/n1',
      headers: { 'if-none-match': '"1"' },
    });
    expect(same.statusCode).toBe(304);
    expect(same.body).toBe('');
  });

  it('answers a missing resource with a 404 problem, and a delete with 204 and no body', async () => {
    const server = await open();
    const missing = await server.inject({ method: 'GET', url: '/notes/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toBe(problemJson);
    expect(missing.json()).toMatchObject({ status: 404, title: 'Not Found', instance: '/notes/nope' });

    const writer = await bearer(['writer']);
    await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization: writer },
      payload: { id: 'n2', text: 'x' },
    });
    const deleted = await server.inject({
      method: 'DELETE',
      url: '/notes/n2',
      headers: { authorization: await bearer(['editor']) },
    });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect((await server.inject({ method: 'GET', url: '/notes/n2' })).statusCode).toBe(404);
  });

  it('takes a path parameter of up to 1000 characters (a long user id), and no longer one', async () => {
    const server = await open();
    const long = await server.inject({ method: 'GET', url: `/notes/${'a'.repeat(1000)}` });
    const tooLong = await server.inject({ method: 'GET', url: `/notes/${'a'.repeat(1001)}` });
    // Reached the handler, which found no such note.
    expect(long.statusCode).toBe(404);
    expect(long.json().detail).toMatch(/^Failed to find an entity of type 'Note'/);
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().detail).toMatch(/exceeding the max param length/);
  });

  it('validates the message: a 400 problem names every failing field', async () => {
    const server = await open();
    const res = await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization: await bearer(['writer']) },
      payload: { id: 'Not An Id', text: '', tags: 'x' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe(problemJson);
    const fields = (res.json().errors as { field: string }[]).map((e) => e.field).sort();
    expect(fields).toEqual(['id', 'tags', 'text']);
  });

  it('converts path and query text to the types the schema wants, and rejects what does not fit', async () => {
    const server = await open();
    expect((await server.inject({ method: 'GET', url: '/notes?limit=5&tag=a' })).statusCode).toBe(200);
    const bad = await server.inject({ method: 'GET', url: '/notes?limit=lots' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0]).toMatchObject({ field: 'limit' });
  });

  it('refuses bodies that are not JSON objects, too large or of another media type, as problems', async () => {
    const server = await open();
    const authorization = await bearer(['writer']);
    const cases = [
      { payload: '{"id":', type: 'application/json', status: 400 },
      { payload: '[1,2]', type: 'application/json', status: 400 },
      { payload: 'id=1', type: 'application/x-www-form-urlencoded', status: 415 },
      { payload: '{"id":"t1","text":"plain"}', type: 'text/plain', status: 415 },
      { payload: '"just a string"', type: 'application/json', status: 400 },
      {
        payload: JSON.stringify({ id: 'big', text: 'x'.repeat(2_000_000) }),
        type: 'application/json',
        status: 413,
      },
    ];
    for (const c of cases) {
      const res = await server.inject({
        method: 'POST',
        url: '/notes',
        headers: { authorization, 'content-type': c.type },
        payload: c.payload,
      });
      expect([c.payload.slice(0, 10), res.statusCode]).toEqual([c.payload.slice(0, 10), c.status]);
      expect(res.headers['content-type']).toBe(problemJson);
      if (c.status === 415) expect(res.json().detail).toBe('Send the request body as application/json');
    }
    // Valid JSON, but with a key that would reach an object's prototype: refused, and the answer says so.
    const poisoned = await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization, 'content-type': 'application/json' },
      payload: '{"id":"p1","text":"t","__proto__":{"admin":true}}',
    });
    expect(poisoned.statusCode).toBe(400);
    expect(poisoned.json().detail).toContain('holds a "__proto__" or "constructor.prototype" key');
  });

  it('maps If-Match into the message: a stale version is a 412, a current one succeeds', async () => {
    const server = await open();
    const authorization = await bearer(['writer']);
    await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization },
      payload: { id: 'n3', text: 'a' },
    });
    const stale = await server.inject({
      method: 'PUT',
      url: '/notes/n3',
      headers: { authorization, 'if-match': '"7"' },
      payload: { text: 'b' },
    });
    expect(stale.statusCode).toBe(412);
    expect(stale.headers['content-type']).toBe(problemJson);
    const current = await server.inject({
      method: 'PUT',
      url: '/notes/n3',
      headers: { authorization, 'if-match': 'W/"1"' },
      payload: { text: 'b' },
    });
    expect(current.statusCode).toBe(200);
    expect(current.json()).toMatchObject({ text: 'b', version: 2 });
    const garbled = await server.inject({
      method: 'PUT',
      url: '/notes/n3',
      headers: { authorization, 'if-match': '"1", "2"' },
      payload: { text: 'c' },
    });
    expect(garbled.statusCode).toBe(400);
  });

  it('answers unknown paths with 404 and known paths with the wrong method with 405 and Allow', async () => {
    const server = await open();
    const unknown = await server.inject({ method: 'GET', url: '/nowhere' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toBe(problemJson);
    const wrong = await server.inject({ method: 'PATCH', url: '/notes/n1' });
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers.allow).toBe('GET, PUT, DELETE');
    expect(wrong.headers['content-type']).toBe(problemJson);
  });

  it('turns an exception into a 500 problem with a correlation id and no stack, and logs the stack', async () => {
    const logged: string[] = [];
    const { default: Fastify } = await import('fastify');
    const { myelin } = await import('./myelinHttp.ts');
    const { api, testApplication } = await import('../testing/testApi.ts');
    const app = await testApplication();
    const server = Fastify({
      logger: { level: 'error', stream: { write: (line: string) => void logged.push(line) } },
    });
    await server.register(myelin, { app, routes: api });
    servers.push(server);
    const res = await server.inject({
      method: 'POST',
      url: '/crash',
      headers: { 'x-correlation-id': 'req-42' },
      payload: { reason: 'tested' },
    });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toBe(problemJson);
    expect(res.headers['x-correlation-id']).toBe('req-42');
    const body = res.json();
    expect(body).toMatchObject({ status: 500, correlationId: 'req-42' });
    expect(JSON.stringify(body)).not.toMatch(/boom|stack|secret/);
    expect(logged.join('')).toMatch(/boom: tested[\s\S]*myelinHttp|testApi/);
    await app.dispose();
  });
});

describe('authentication and authorization', () => {
  async function token(
    claims: Record<string, unknown>,
    options: { secret?: string; alg?: string; expires?: string; issuer?: string } = {},
  ): Promise<string> {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: options.alg ?? 'HS256' })
      .setSubject('mallory')
      .setIssuer(options.issuer ?? auth.issuer)
      .setAudience(auth.audience)
      .setIssuedAt()
      .setExpirationTime(options.expires ?? '1m');
    return `Bearer ${await jwt.sign(new TextEncoder().encode(options.secret ?? auth.secret))}`;
  }

  it('gives 401 for no token on a protected route, a bad token, and 403 for the wrong role, 2xx for the right one', async () => {
    const server = await open();
    const header = (value: string | undefined) => (value === undefined ? {} : { authorization: value });
    const expired = await token({ roles: ['editor'] }, { expires: '-1h' });
    const wrongKey = await token(
      { roles: ['editor'] },
      { secret: 'another-secret-that-is-32-characters-long' },
    );
    const wrongIssuer = await token({ roles: ['editor'] }, { issuer: 'https://elsewhere' });
    const [head = '', body = ''] = (await token({ roles: ['editor'] })).slice(7).split('.');
    const tampered = `Bearer ${head}.${Buffer.from(JSON.stringify({ sub: 'mallory', roles: ['editor'], iss: auth.issuer, aud: auth.audience })).toString('base64url')}.${body}`;
    const none = `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', roles: ['editor'], iss: auth.issuer, aud: auth.audience })).toString('base64url')}.`;
    const matrix: { route: string; method: 'POST' | 'DELETE' | 'GET'; roles: string[]; right: number }[] = [
      { method: 'POST', route: '/notes', roles: ['writer'], right: 201 },
      { method: 'DELETE', route: '/notes/m1', roles: ['editor'], right: 204 },
    ];
    for (const { method, route, roles, right } of matrix) {
      const payload = method === 'POST' ? { id: 'm1', text: 'x' } : undefined;
      const send = (authorization: string | undefined) =>
        server.inject({
          method,
          url: route,
          headers: header(authorization),
          ...(payload ? { payload } : {}),
        });
      const seen = {
        none: (await send(undefined)).statusCode,
        expired: (await send(expired)).statusCode,
        wrongKey: (await send(wrongKey)).statusCode,
        wrongIssuer: (await send(wrongIssuer)).statusCode,
        tampered: (await send(tampered)).statusCode,
        algNone: (await send(none)).statusCode,
        garbage: (await send('Bearer not.a.token')).statusCode,
        basic: (await send('Basic YWxpY2U6cw==')).statusCode,
        wrongRole: (await send(await bearer(['reader']))).statusCode,
        right: (await send(await bearer(roles))).statusCode,
      };
      expect({ route, ...seen }).toEqual({
        route,
        none: 401,
        expired: 401,
        wrongKey: 401,
        wrongIssuer: 401,
        tampered: 401,
        algNone: 401,
        garbage: 401,
        basic: 401,
        wrongRole: 403,
        right,
      });
    }
    // Anonymous routes stay open without a token, but a bad token is still refused.
    expect((await server.inject({ method: 'GET', url: '/notes' })).statusCode).toBe(200);
    const refused = await server.inject({
      method: 'GET',
      url: '/notes',
      headers: { authorization: expired },
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(refused.json().detail).toBe('The token has expired');
  });

  it('issues development tokens only when asked to, and they carry the user roles', async () => {
    const plain = await open();
    expect((await plain.inject({ method: 'POST', url: '/api/auth/token', payload: {} })).statusCode).toBe(
      404,
    );

    const server = await open({
      devTokens: { users: [{ username: 'chef', password: 'chef', roles: ['writer'] }] },
    });
    const wrong = await server.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { username: 'chef', password: 'nope' },
    });
    expect(wrong.statusCode).toBe(401);
    const missing = await server.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { username: 'chef' },
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors[0].field).toBe('password');
    const issued = await server.inject({
      method: 'POST',
      url: '/api/auth/token',
      payload: { username: 'chef', password: 'chef' },
    });
    expect(issued.statusCode).toBe(200);
    expect(issued.headers['cache-control']).toBe('no-store');
    expect(issued.headers.pragma).toBe('no-cache');
    const { accessToken, tokenType } = issued.json();
    expect(tokenType).toBe('Bearer');
    const created = await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization: `Bearer ${accessToken}` },
      payload: { id: 'c1', text: 'soup' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().author).toBe('chef');
    // Answers and problems alike may carry personal data: nothing keeps them.
    expect(created.headers['cache-control']).toBe('no-store');
    expect(wrong.headers['cache-control']).toBe('no-store');
  });
});

describe('what the database cannot take, and what it cannot do now', () => {
  it('refuses NUL characters and unpaired surrogates in any field with a 400 naming the field', async () => {
    const server = await open();
    const authorization = await bearer(['writer']);
    const nul = await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization, 'content-type': 'application/json' },
      payload: '{"id":"n1","text":"a\\u0000b","tags":["ok","\\ud800"]}',
    });
    expect(nul.statusCode).toBe(400);
    expect(nul.headers['content-type']).toBe(problemJson);
    expect(nul.json().errors.map((e: { field: string; pointer: string }) => [e.field, e.pointer])).toEqual([
      ['text', '#/text'],
      ['tags[1]', '#/tags/1'],
    ]);
    const inPath = await server.inject({ method: 'GET', url: '/notes/a%00b' });
    expect(inPath.statusCode).toBe(400);
    expect(inPath.json().errors[0].field).toBe('id');
    const inQuery = await server.inject({ method: 'GET', url: '/notes?tag=a%00' });
    expect(inQuery.statusCode).toBe(400);
    // A surrogate pair is a character like any other.
    const pizza = await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization },
      payload: { id: 'n2', text: '🍕' },
    });
    expect(pizza.statusCode).toBe(201);
  });

  it('refuses values nested deeper than 64 levels with a 400 naming the field, however deep they go', async () => {
    const server = await open();
    const authorization = await bearer(['writer']);
    const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    // 5,000 levels overflowed the stack of the old recursive walk: a 500, to anyone.
    for (const headers of [{}, { authorization }]) {
      const deep = await server.inject({
        method: 'POST',
        url: '/notes',
        headers: { ...headers, 'content-type': 'application/json' },
        payload: `{"id":"n3","text":${nested(5000)}}`,
      });
      expect(deep.statusCode).toBe(400);
      expect(deep.headers['content-type']).toBe(problemJson);
      expect(deep.json().errors).toEqual([
        { field: 'text', pointer: '#/text', detail: 'nests values deeper than 64 levels' },
      ]);
    }
    // 300,000 levels of arrays (600 KB, under the body limit), with an Idempotency-Key: the fingerprint of the body
    // is not taken either.
    const arrays = await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization, 'content-type': 'application/json', 'idempotency-key': 'deep-1' },
      payload: `{"id":"n4","text":"t","tags":${'['.repeat(300_000)}${']'.repeat(300_000)}}`,
    });
    expect(arrays.statusCode).toBe(400);
    expect(arrays.json().errors[0].field).toBe('tags');
    // 64 levels are a message like any other: what is wrong with this one is its type, not its depth.
    const deepest = await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { authorization, 'content-type': 'application/json' },
      payload: `{"id":"n5","text":${nested(63)}}`,
    });
    expect(deepest.statusCode).toBe(400);
    expect(deepest.json().errors[0].detail).not.toContain('levels');
  });

  it('answers a dependency that is down with 503 and Retry-After, not 500', async () => {
    const server = await open();
    const down = await server.inject({ method: 'POST', url: '/crash', payload: { reason: 'unavailable' } });
    expect(down.statusCode).toBe(503);
    expect(down.headers['retry-after']).toBe('3');
    expect(down.headers['content-type']).toBe(problemJson);
    expect(down.json()).toMatchObject({ status: 503, title: 'Service Unavailable' });
    expect(down.body).not.toContain('database');
  });
});

describe('security headers and cross-origin requests', () => {
  it('works the headers out once, unless a policy directive is computed per request', async () => {
    let nonce = 0;
    const dynamic = await open({
      securityHeaders: {
        contentSecurityPolicy: { directives: { scriptSrc: ["'self'", () => `'nonce-n${++nonce}'`] } },
        xFrameOptions: false,
      },
    });
    const first = await dynamic.inject({ method: 'GET', url: '/notes' });
    const second = await dynamic.inject({ method: 'GET', url: '/notes' });
    expect(first.headers['content-security-policy']).toMatch(/script-src 'self' 'nonce-n1'/);
    expect(second.headers['content-security-policy']).toMatch(/script-src 'self' 'nonce-n2'/);
    expect(second.headers['x-frame-options']).toBeUndefined();
    expect(second.headers['x-content-type-options']).toBe('nosniff');
  });

  it('sends security headers by default, and allows cross-origin calls only from configured origins', async () => {
    const plain = await open();
    const res = await plain.inject({ method: 'GET', url: '/notes' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(res.headers['content-security-policy']).not.toMatch(/upgrade-insecure-requests/);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    const preflight = { 'access-control-request-method': 'POST', origin: 'https://app.example' };
    const refused = await plain.inject({ method: 'OPTIONS', url: '/notes', headers: preflight });
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();

    const open_ = await open({ cors: { origin: ['https://app.example'] } });
    const allowed = await open_.inject({ method: 'OPTIONS', url: '/notes', headers: preflight });
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    const other = await open_.inject({
      method: 'OPTIONS',
      url: '/notes',
      headers: { ...preflight, origin: 'https://evil.example' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const off = await open({ securityHeaders: false });
    expect(
      (await off.inject({ method: 'GET', url: '/notes' })).headers['x-content-type-options'],
    ).toBeUndefined();
  });
});

describe('rate limits', () => {
  it('answers a client over its limit with a 429 problem and Retry-After; other clients and exempt roles go on', async () => {
    const server = await open({
      rateLimits: { listNotes: { max: 3, windowMs: 60_000, exemptRoles: ['editor'] } },
    });
    const list = (remoteAddress: string, headers: Record<string, string> = {}) =>
      server.inject({ method: 'GET', url: '/notes', remoteAddress, headers });
    for (let i = 0; i < 3; i++) expect((await list('10.0.0.1')).statusCode).toBe(200);
    const over = await list('10.0.0.1');
    expect(over.statusCode).toBe(429);
    expect(over.headers['content-type']).toBe(problemJson);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(over.json()).toMatchObject({ status: 429, title: 'Too Many Requests' });
    expect((await list('10.0.0.2')).statusCode).toBe(200);
    // A signed-in caller is counted by subject, wherever they call from, with a budget of their own; a caller
    // with an exempt role is not counted; a forged token counts as its address.
    const reader = { authorization: await bearer(['reader']) };
    for (let i = 0; i < 3; i++) expect((await list(`10.0.1.${i}`, reader)).statusCode).toBe(200);
    expect((await list('10.0.1.9', reader)).statusCode).toBe(429);
    const editor = { authorization: await bearer(['editor']) };
    for (let i = 0; i < 5; i++) expect((await list('10.0.0.1', editor)).statusCode).toBe(200);
    expect((await list('10.0.0.1', { authorization: 'Bearer forged' })).statusCode).toBe(429);
    // Routes without a limit are not limited.
    expect(
      (await server.inject({ method: 'GET', url: '/notes/x', remoteAddress: '10.0.0.1' })).statusCode,
    ).toBe(404);
  });

  it('limits the development login to 10 tries a minute per client by default, and refuses an unknown route name', async () => {
    const server = await open({ devTokens: { users: [{ username: 'chef', password: 'chef', roles: [] }] } });
    const login = (remoteAddress: string) =>
      server.inject({
        method: 'POST',
        url: '/api/auth/token',
        remoteAddress,
        payload: { username: 'chef', password: 'guess' },
      });
    for (let i = 0; i < 10; i++) expect((await login('10.0.0.3')).statusCode).toBe(401);
    expect((await login('10.0.0.3')).statusCode).toBe(429);
    expect((await login('10.0.0.4')).statusCode).toBe(401);
    await expect(open({ rateLimits: { nope: { max: 1 } } })).rejects.toThrow("no route is named 'nope'");
  });
});
