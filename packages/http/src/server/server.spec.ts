import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { command, createApplication, handler, ok, query } from '@myelin/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { get, routes } from '../client/route.ts';
import { api as testApi, testApplication } from '../testing/testApi.ts';
import { createServer } from './server.ts';

const Wait = query('test.wait', z.object({ ms: z.number().int().max(5000) })).returns<{ waited: number }>();

describe('closing the server', () => {
  it('finishes in-flight requests, refuses new ones, then disposes the application', async () => {
    let disposed = false;
    const app = await createApplication()
      .authorize(Wait, { anonymous: true })
      .handle(
        handler(Wait, {}, async ({ ms }) => {
          await new Promise((resolve) => setTimeout(resolve, ms));
          return ok({ waited: ms });
        }),
      )
      .build();
    const watched = {
      ...app,
      async dispose() {
        disposed = true;
        await app.dispose();
      },
    };
    const server = await createServer({
      app: watched,
      routes: routes({ wait: get('/wait', Wait) }),
      fastify: { logger: false },
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.addresses()[0] as { port: number };
    const inFlight = fetch(`http://127.0.0.1:${port}/wait?ms=400`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = server.close();
    const late = await fetch(`http://127.0.0.1:${port}/wait?ms=0`, {
      signal: AbortSignal.timeout(2000),
    }).then(
      (res) => res.status,
      () => 'refused',
    );
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ waited: 400 });
    expect([503, 'refused']).toContain(late);
    await closing;
    expect(disposed).toBe(true);
  });
});

/** Sends raw bytes on a socket and collects what comes back until the server closes it. */
function raw(port: number, write: (socket: import('node:net').Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => write(socket));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('requests Node cannot parse, and requests that take too long to arrive', () => {
  const Note = command('test.note', z.object({ text: z.string() })).returns<{ text: string }>();

  async function started(options: { requestTimeoutMs?: number; headersTimeoutMs?: number } = {}) {
    const app = await createApplication()
      .authorize(Note, { anonymous: true })
      .handle(handler(Note, {}, async ({ text }) => ok({ text })))
      .build();
    const { post } = await import('../client/route.ts');
    const server = await createServer({
      app,
      routes: routes({ note: post('/notes', Note, { status: 200 }) }),
      fastify: { logger: false },
      ...options,
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    return { server, port: (server.addresses()[0] as { port: number }).port };
  }

  it('answers a header too large (431) and a malformed request (400) as problem+json', async () => {
    const { server, port } = await started();
    try {
      const huge = await raw(port, (s) =>
        s.write(`GET /notes HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      );
      expect(huge).toMatch(/^HTTP\/1\.1 431 /);
      expect(huge).toContain(
        'content-type: application/problem+json'.replace('content-type', 'Content-Type'),
      );
      expect(JSON.parse(huge.slice(huge.indexOf('\r\n\r\n') + 4))).toMatchObject({
        status: 431,
        title: 'Request Header Fields Too Large',
      });
      const garbled = await raw(port, (s) => s.write('NOT HTTP AT ALL\r\n\r\n'));
      expect(garbled).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(garbled.slice(garbled.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 400 });
    } finally {
      await server.close();
    }
  });

  it('answers a body trickled in too slowly with 408 problem+json and closes, within the bound', async () => {
    const { server, port } = await started({ requestTimeoutMs: 1500 });
    try {
      const began = Date.now();
      const answer = await raw(port, (socket) => {
        socket.write(
          'POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
        );
        const drip = setInterval(() => socket.writable && socket.write(' '), 200);
        socket.on('close', () => clearInterval(drip));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 408 });
      // The bound, plus Node's check interval (a second) and a busy machine's slack.
      expect(Date.now() - began).toBeLessThan(1500 + 1000 + 3000);
    } finally {
      await server.close();
    }
  });
});

describe('logging by default', () => {
  it('writes a 500 with the correlation id its problem tells the client to quote, with no logger configured', async () => {
    // A process of its own, as a user's service runs: what reaches its stdout is what an operator sees.
    const script = `
      import { createServer } from ${JSON.stringify(new URL('./server.ts', import.meta.url).pathname)};
      import { api, testApplication } from ${JSON.stringify(new URL('../testing/testApi.ts', import.meta.url).pathname)};
      const server = await createServer({ app: await testApplication(), routes: api });
      const response = await server.inject({ method: 'POST', url: '/crash', payload: {} });
      console.error(JSON.stringify(response.json()));
      await server.close();
    `;
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--conditions=@myelin/source', '--input-type=module', '-e', script],
      { cwd: new URL('../../../..', import.meta.url).pathname },
    );
    const problem = JSON.parse(stderr.trim().split('\n').at(-1) ?? '{}') as {
      status: number;
      correlationId: string;
    };
    expect(problem.status).toBe(500);
    const line = stdout.split('\n').find((l) => l.includes('unhandled error'));
    expect(line, stdout).toBeDefined();
    expect(JSON.parse(line as string)).toMatchObject({ level: 50, correlationId: problem.correlationId });
  });

  it("names each request by its correlation id, so Fastify's request lines and Myelin's join up", async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
    const server = await createServer({
      app: await testApplication(),
      routes: testApi,
      fastify: { logger: { level: 'info', stream } },
    });
    try {
      const given = await server.inject({
        method: 'POST',
        url: '/crash',
        payload: {},
        headers: { 'x-correlation-id': 'order-7.retry:2' },
      });
      expect(given.headers['x-correlation-id']).toBe('order-7.retry:2');
      const made = await server.inject({ method: 'POST', url: '/crash', payload: {} });
      const id = String(made.headers['x-correlation-id']);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      for (const correlationId of ['order-7.retry:2', id]) {
        const ofRequest = lines.filter((line) => line.reqId === correlationId);
        expect(ofRequest.map((line) => line.msg)).toEqual(
          expect.arrayContaining(['incoming request', 'unhandled error', 'request completed']),
        );
        expect(ofRequest.find((line) => line.msg === 'unhandled error')).toMatchObject({ correlationId });
      }
      // A header that is not a usable id (too long, or with spaces) is replaced, never echoed into the log.
      const refused = await server.inject({
        method: 'POST',
        url: '/crash',
        payload: {},
        headers: { 'x-correlation-id': 'a b\nforged: 1' },
      });
      expect(String(refused.headers['x-correlation-id'])).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await server.close();
    }
  });
});
