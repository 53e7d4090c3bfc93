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
    expect(response.body).toContain('<script type="module" src="/ui/js/app.js"></script>');
  });

  it.each([
    ['/ui/js/app.js', 'text/javascript; charset=utf-8'],
    ['/ui/styles.css', 'text/css; charset=utf-8'],
    ['/ui/logo.svg', 'image/svg+xml'],
    ['/ui/index.html', 'text/html; charset=utf-8'],
  ])('serves %s as %s', async (url, type) => {
    const response = await server.inject(url);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe(type);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  });

  it('answers 304 when the browser has the current version', async () => {
    const first = await server.inject('/ui/styles.css');
    const again = await server.inject({
      url: '/ui/styles.css',
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

  it('serves every module the page imports, from app.js down', async () => {
    const pending = ['/ui/js/app.js'];
    const seen = new Set<string>();
    while (pending.length > 0) {
      const url = pending.pop() ?? '';
      if (seen.has(url)) continue;
      seen.add(url);
      const response = await server.inject(url);
      expect(response.statusCode, url).toBe(200);
      for (const [, specifier] of response.body.matchAll(/^import\s[^'"]*['"]([^'"]+)['"]/gm)) {
        pending.push(new URL(specifier ?? '', `http://ui${url}`).pathname);
      }
    }
    expect(seen.size).toBeGreaterThan(10);
  });
});
