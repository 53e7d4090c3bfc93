// Credentials that travel in a URL (a live stream's `access_token`, an order's key) are never echoed back in a
// problem, nor written to a log line.
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { UnavailableError } from '@myelin/core';
import pino from 'pino';
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
      // Names the server decodes to a credential's are that credential to the log too.
      for (const name of ['access%5Ftoken', '%6Bey', 'to%6B%65n', 'KEY']) {
        await server.inject({ method: 'GET', url: `/notes/nope?a=1&${name}=${secret}&b=2` });
      }

      // Fastify's router also starts a query at `;` when an application turns that on, and at a `#` a client sends
      // (only a raw request carries one): an occurrence stops there, and a credential after one is redacted from
      // the log. (Without that option `nope;key=…` is the id the client asked for, and a 404 may name it.)
      for (const url of [`/notes/nope;key=${secret}`, `/notes/nope?a=1;key=${secret}`]) {
        const answer = await server.inject({ method: 'GET', url });
        expect(answer.json().instance).toBe('/notes/nope');
      }
      const address = new URL(await server.listen({ port: 0, host: '127.0.0.1' }));
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(address.port), address.hostname);
        let answer = '';
        socket.on('data', (chunk) => {
          answer += chunk.toString();
        });
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
        socket.write(`GET /notes/nope#key=${secret} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      });
      expect(raw).toContain('"instance":"/notes/nope"');
      expect(raw).not.toContain(secret);

      const logged = lines.join('');
      expect(logged).toContain('/notes/nope#key=[redacted]');
      expect(logged).toContain('/notes/nope;key=[redacted]');
      expect(logged).toContain('/notes/nope?a=1;key=[redacted]');
      expect(logged).toContain('/notes/live?access_token=[redacted]');
      expect(logged).toContain('/notes/nope?key=[redacted]');
      expect(logged).toContain('/notes/nope?a=1&access%5Ftoken=[redacted]&b=2');
      expect(logged).toContain('/notes/nope?a=1&%6Bey=[redacted]&b=2');
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(wrongRole);
    } finally {
      await server.close();
    }
  });

  it('are redacted from the request log of a logger the application gives, as from one Fastify makes', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: 'info' }, stream);
    const server = await createServer({
      app: await testApplication(),
      routes: api,
      fastify: { loggerInstance: logger },
    });
    try {
      await server.inject({ method: 'GET', url: `/notes/nope?key=${secret}` });
      const logged = lines.join('');
      expect(logged).toContain('/notes/nope?key=[redacted]');
      expect(logged).not.toContain(secret);
    } finally {
      await server.close();
    }
  });

  it('stay out of the log lines of a live stream that fails, cannot start, or is refused for a cap', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const failing: LiveStream = {
      async *events() {
        yield { data: 'first' };
        throw new Error('the read model broke');
      },
    };
    const open: LiveStream = {
      async *events({ signal }) {
        yield { data: 'open' };
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      },
    };
    const unavailable: LiveStream = {
      async events() {
        throw new UnavailableError('the database is down');
      },
    };
    const server = await createServer({
      app: await testApplication(),
      routes: api,
      auth,
      live: { '/notes/failing': failing, '/notes/down': unavailable, '/notes/open': open },
      liveLimits: { streamsPerClient: 1 },
      fastify: { logger: { level: 'info', stream } },
    });
    try {
      const base = await server.listen({ port: 0, host: '127.0.0.1' });
      const reader = await issueToken(auth, { username: 'r', password: '', roles: ['reader'] }, 60);
      const failed = await fetch(`${base}/notes/failing?access_token=${reader}`);
      expect(await failed.text()).toContain('event: error');
      const down = await fetch(`${base}/notes/down?access_token=${reader}`);
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).not.toBeNull();
      const body = await down.text();
      expect(body).not.toContain(reader);
      // One stream open for this subject; the second is refused, and neither is logged with its token.
      const held = new AbortController();
      const holding = await fetch(`${base}/notes/open?access_token=${reader}`, { signal: held.signal });
      expect(holding.status).toBe(200);
      const refused = await fetch(`${base}/notes/open?access_token=${reader}`);
      expect(refused.status).toBe(429);
      expect(await refused.text()).not.toContain(reader);
      held.abort();

      const logged = lines.join('');
      expect(logged).toContain('live stream failed');
      expect(logged).toContain('a dependency is unavailable');
      expect(logged).toContain('access_token=[redacted]');
      expect(logged).toContain('"statusCode":429');
      expect(logged).not.toContain(reader);
    } finally {
      await server.close();
    }
  });
});
