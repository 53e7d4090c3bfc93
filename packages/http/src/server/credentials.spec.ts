// Credentials that travel in a URL (a live stream's `access_token`, an order's key) are never echoed back in a
// problem, nor written to a log line.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { api, auth, testApplication } from '../testing/testApi.ts';
import { issueToken } from './devTokens.ts';
import type { LiveStream } from './live.ts';
import { createServer } from './server.ts';

const secret = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl';

describe('credentials in a URL', () => {
  it('are not echoed in a problem’s instance, and are redacted from the request log', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const quiet: LiveStream = {
      roles: ['reader'],
      async *events() {
        // no events: the test only opens and is refused
      },
    };
    const server = await createServer({
      app: await testApplication(),
      routes: api,
      auth,
      live: { '/notes/live': quiet },
      fastify: { logger: { level: 'info', stream } },
    });
    try {
      const refused = await server.inject({ method: 'GET', url: `/notes/live?access_token=${secret}` });
      expect(refused.statusCode).toBe(401);
      expect(refused.json().instance).toBe('/notes/live');
      expect(refused.body).not.toContain(secret);
      const wrongRole = await issueToken(auth, { username: 'w', password: '', roles: ['writer'] }, 60);
      const forbidden = await server.inject({ method: 'GET', url: `/notes/live?access_token=${wrongRole}` });
      expect(forbidden.statusCode).toBe(403);
      expect(forbidden.body).not.toContain(wrongRole);
      const missing = await server.inject({ method: 'GET', url: `/notes/nope?key=${secret}` });
      expect(missing.json().instance).toBe('/notes/nope');

      const logged = lines.join('');
      expect(logged).toContain('/notes/live?access_token=[redacted]');
      expect(logged).toContain('/notes/nope?key=[redacted]');
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(wrongRole);
    } finally {
      await server.close();
    }
  });
});
