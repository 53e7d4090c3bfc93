// How the UI's static files are served: types, caching, the page's policy, and nothing outside public/.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUi } from './ui.ts';

let server: FastifyInstance;
beforeAll(async () => {
  server = Fastify();
  await registerUi(server);
  await server.ready();
});
afterAll(async () => {
  await server.close();
});

describe('registerUi', () => {
  it('serves the page at / with its own strict policy and a revalidated cache', async () => {
    const response = await server.inject('/');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.headers.etag).toMatch(/^"[\w-]+"$/);
    const policy = String(response.headers['content-security-policy']);
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).not.toContain('unsafe-inline');
    expect(response.body).toContain('<script type="module" src="/ui/app.js"></script>');
  });

  it.each([
    ['/ui/app.js', 'text/javascript; charset=utf-8'],
    ['/ui/app.css', 'text/css; charset=utf-8'],
    ['/ui/logo.svg', 'image/svg+xml'],
    ['/ui/index.html', 'text/html; charset=utf-8'],
  ])('serves %s as %s', async (url, type) => {
    const response = await server.inject(url);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe(type);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers 304 when the browser has the current version', async () => {
    const first = await server.inject('/ui/logo.svg');
    const again = await server.inject({
      url: '/ui/logo.svg',
      headers: { 'if-none-match': String(first.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it.each([
    '/ui/../ui/ui.ts',
    '/ui/%2e%2e/ui.ts',
    '/ui/js/..%2f..%2f..%2fui.ts',
    '/ui/%252e%252e/ui.ts',
    '/ui/..%5cui.ts',
    '/ui/.hidden',
    '/ui/js',
    '/ui/js/',
    '/ui/js//app.js',
    '/ui/nope.js',
    '/ui/%00app.js',
    '/ui/',
  ])('is a 404 for %s', async (url) => {
    expect((await server.inject(url)).statusCode).toBe(404);
  });

  it('serves the UI as one bundled module that imports nothing, and answers 304 when it is current', async () => {
    const response = await server.inject('/ui/app.js');
    expect(response.statusCode).toBe(200);
    // One request for the code: no import left for the browser to fetch, and no TypeScript left in it.
    expect(response.body).not.toMatch(/^import\s|[;}]import\s*[{*"']/m);
    expect(response.body).toContain('/api/orders'); // the typed client's routes are in it
    const again = await server.inject({
      url: '/ui/app.js',
      headers: { 'if-none-match': String(response.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    // The sources are not served: only the bundle is.
    expect((await server.inject('/ui/app/app.ts')).statusCode).toBe(404);
  });
});
