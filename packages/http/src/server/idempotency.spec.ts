import { command, createApplication, handler, IdempotencyStore, ok, unchecked } from '@myelin/core';
import { InMemoryIdempotencyStore, inMemoryPersistence } from '@myelin/core/memory';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { post } from '../client/route.ts';
import { auth, testApplication, testServer } from '../testing/testApi.ts';
import { issueToken } from './devTokens.ts';
import { IdempotencyKeys, type StoredResponse } from './idempotency.ts';
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
async function bearer(subject = 'alice'): Promise<string> {
  return `Bearer ${await issueToken(auth, { username: subject, password: '', roles: ['writer'] }, 60)}`;
}
const problemJson = 'application/problem+json; charset=utf-8';

async function postNote(server: FastifyInstance, authorization: string, payload: object, key?: string) {
  return server.inject({
    method: 'POST',
    url: '/notes',
    headers: { authorization, ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload,
  });
}

describe('Idempotency-Key on commands', () => {
  it('replays the first response to a repeat with the same body, without running the command again', async () => {
    const server = await open();
    const authorization = await bearer();
    const note = { id: 'n1', text: 'once' };
    const first = await postNote(server, authorization, note, 'key-1');
    const repeat = await postNote(server, authorization, note, 'key-1');

    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(repeat.statusCode).toBe(201);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(repeat.body).toBe(first.body);
    expect(repeat.headers.location).toBe('/notes/n1');
    expect(repeat.headers['myelin-position']).toBe(first.headers['myelin-position']);
    // Only one note was written: the same command without a key runs, and finds it there.
    expect((await postNote(server, authorization, note)).statusCode).toBe(412);
  });

  it('refuses the key with another body as a 422 problem', async () => {
    const server = await open();
    const authorization = await bearer();
    await postNote(server, authorization, { id: 'n1', text: 'first' }, 'key-1');
    const reused = await postNote(server, authorization, { id: 'n2', text: 'second' }, 'key-1');

    expect(reused.statusCode).toBe(422);
    expect(reused.headers['content-type']).toBe(problemJson);
    expect(reused.json()).toMatchObject({
      status: 422,
      detail: 'This Idempotency-Key was used with another request (its body, path or query)',
      instance: '/notes',
    });
    expect((await server.inject({ method: 'GET', url: '/notes/n2' })).statusCode).toBe(404);
  });

  it('keeps a caller’s keys apart from another caller’s', async () => {
    const server = await open();
    const note = { id: 'n1', text: 'mine' };
    expect((await postNote(server, await bearer('alice'), note, 'key-1')).statusCode).toBe(201);
    // Bob's key-1 is his own: his request runs (and finds the note alice wrote) rather than getting her response.
    const bobs = await postNote(server, await bearer('bob'), note, 'key-1');
    expect(bobs.statusCode).toBe(412);
    expect(bobs.headers['idempotent-replayed']).toBeUndefined();
  });

  it('keeps anonymous callers apart by address: one cannot replay another’s response with its key', async () => {
    const Ping = command('test.ping', unchecked<{ text: string }>()).returns<{ runs: number }>();
    let runs = 0;
    const app = await createApplication()
      .include(inMemoryPersistence())
      .authorize(Ping, { anonymous: true })
      .handle(handler(Ping, {}, async () => ok({ runs: ++runs })))
      .build();
    const server = await createServer({
      app,
      routes: { ping: post('/ping', Ping) },
      fastify: { logger: false },
    });
    servers.push(server);
    const ping = (remoteAddress: string) =>
      server.inject({
        method: 'POST',
        url: '/ping',
        remoteAddress,
        headers: { 'idempotency-key': 'shared-key' },
        payload: { text: 'hello' },
      });
    expect((await ping('10.0.0.1')).json()).toEqual({ runs: 1 });
    const again = await ping('10.0.0.1');
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual({ runs: 1 });
    const other = await ping('10.0.0.2');
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(other.json()).toEqual({ runs: 2 });
  });

  it('keeps no refusal: an anonymous flood of made-up keys leaves nothing behind', async () => {
    const { server, app } = await testServer();
    servers.push(server);
    const store = app.container.root.resolve(IdempotencyStore);
    const kept = vi.spyOn(store, 'complete');
    for (let i = 0; i < 20; i++) {
      const refused = await server.inject({
        method: 'POST',
        url: `/notes?padding=${'x'.repeat(2000)}`,
        headers: { 'idempotency-key': `made-up-${i}` },
        payload: { id: 'n1' },
      });
      expect(refused.statusCode).toBe(401);
    }
    expect(kept).not.toHaveBeenCalled();
    // Released, not pending: the same key runs again (and is refused again), never a 409.
    const again = await server.inject({
      method: 'POST',
      url: '/notes',
      headers: { 'idempotency-key': 'made-up-0' },
      payload: { id: 'n1' },
    });
    expect(again.statusCode).toBe(401);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
  });

  it('takes the same key with another query string as another request, a 422, not one to run again', async () => {
    const server = await open();
    const authorization = await bearer();
    const note = { id: 'n1', text: 'once' };
    const send = (url: string) =>
      server.inject({
        method: 'POST',
        url,
        headers: { authorization, 'idempotency-key': 'key-1' },
        payload: note,
      });
    expect((await send('/notes?a=1&b=2')).statusCode).toBe(201);
    // The same parameters in another order are the same request.
    expect((await send('/notes?b=2&a=1')).headers['idempotent-replayed']).toBe('true');
    const other = await send(`/notes?a=1&b=2&c=${'x'.repeat(4000)}`);
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({
      detail: 'This Idempotency-Key was used with another request (its body, path or query)',
    });
  });

  it('keeps no server error: a retry runs again', async () => {
    const server = await open();
    const crash = (payload: object) =>
      server.inject({ method: 'POST', url: '/crash', headers: { 'idempotency-key': 'crash-1' }, payload });
    const first = await crash({ reason: 'first' });
    const retry = await crash({ reason: 'first' });

    expect(first.statusCode).toBe(500);
    expect(retry.statusCode).toBe(500);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    // It ran again: a new error, with its own correlation id.
    expect(retry.json().correlationId).not.toBe(first.json().correlationId);
    // The key was released, so it holds no body either: another one is not a reuse.
    expect((await crash({ reason: 'other' })).statusCode).toBe(500);
  });

  it('keeps no client error: a repeat runs again, and the key is free for the corrected request', async () => {
    const server = await open();
    const authorization = await bearer();
    const invalid = { id: 'Not An Id', text: '' };
    const first = await postNote(server, authorization, invalid, 'key-1');
    const repeat = await postNote(server, authorization, invalid, 'key-1');
    expect(first.statusCode).toBe(400);
    expect(repeat.statusCode).toBe(400);
    expect(repeat.headers['idempotent-replayed']).toBeUndefined();
    expect(repeat.headers['content-type']).toBe(problemJson);
    const corrected = await postNote(server, authorization, { id: 'n1', text: 'fixed' }, 'key-1');
    expect(corrected.statusCode).toBe(201);
  });

  it('refuses a malformed key with a 400 problem, and runs nothing', async () => {
    const server = await open();
    const authorization = await bearer();
    for (const key of ['has space', 'é', 'x'.repeat(256)]) {
      const refused = await postNote(server, authorization, { id: 'n1', text: 'never' }, key);
      expect(refused.statusCode).toBe(400);
      expect(refused.headers['content-type']).toBe(problemJson);
      expect(refused.json()).toMatchObject({
        detail: 'Idempotency-Key must be 1 to 255 visible ASCII characters',
      });
    }
    expect((await server.inject({ method: 'GET', url: '/notes/n1' })).statusCode).toBe(404);
    expect(
      (await postNote(server, authorization, { id: 'n1', text: 'ok' }, 'x'.repeat(255))).statusCode,
    ).toBe(201);
  });

  it('forgets a key after its retention', async () => {
    const server = await open({ idempotency: { retentionMs: 100 } });
    const authorization = await bearer();
    const note = { id: 'n1', text: 'once' };
    expect((await postNote(server, authorization, note, 'key-1')).statusCode).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const later = await postNote(server, authorization, note, 'key-1');
    expect(later.statusCode).toBe(412);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
  });

  it('ignores the header when turned off', async () => {
    const server = await open({ idempotency: false });
    const authorization = await bearer();
    const note = { id: 'n1', text: 'once' };
    expect((await postNote(server, authorization, note, 'key-1')).statusCode).toBe(201);
    expect((await postNote(server, authorization, note, 'key-1')).statusCode).toBe(412);
  });

  it('refuses a retention that is not a positive duration', async () => {
    const app = await testApplication();
    expect(() => new IdempotencyKeys(app, { retentionMs: 0 })).toThrow(TypeError);
    await app.dispose();
  });
});

describe('IdempotencyKeys', () => {
  const request = { scope: 'alice POST /notes', key: 'key-1', fingerprint: 'body-1' };
  const createdResponse: StoredResponse = {
    status: 201,
    headers: { location: '/notes/n1' },
    body: { id: 'n1' },
  };

  it('answers a repeat while the first still runs with a 409 problem, then replays the first', async () => {
    const app = await testApplication();
    const keys = new IdempotencyKeys(app, {});
    let finish: (response: StoredResponse) => void = () => {};
    const first = keys.run(request, () => new Promise((resolve) => (finish = resolve)));
    let ran = false;
    const concurrent = await keys.run(request, async () => {
      ran = true;
      return createdResponse;
    });

    expect(ran).toBe(false);
    expect(concurrent).toEqual({
      replayed: false,
      response: {
        status: 409,
        headers: { 'retry-after': '1' },
        body: expect.objectContaining({
          status: 409,
          detail: 'A request with this Idempotency-Key is still being processed',
        }),
      },
    });
    finish(createdResponse);
    expect(await first).toEqual({ response: createdResponse, replayed: false });
    expect(await keys.run(request, async () => ({ status: 200, headers: {} }))).toEqual({
      response: createdResponse,
      replayed: true,
    });
    await app.dispose();
  });

  it('releases the key when producing the response throws, and rethrows', async () => {
    const app = await testApplication();
    const keys = new IdempotencyKeys(app, {});
    await expect(
      keys.run(request, async () => {
        throw new Error('lost the database');
      }),
    ).rejects.toThrow('lost the database');
    expect(await keys.run(request, async () => createdResponse)).toEqual({
      response: createdResponse,
      replayed: false,
    });
    await app.dispose();
  });

  it('uses the application’s store when it has one, else one in memory', async () => {
    const app = await testApplication();
    // inMemoryPersistence registers its store: the keys the plugin keeps are the application's.
    const store = app.container.root.resolve(IdempotencyStore);
    expect(store).toBeInstanceOf(InMemoryIdempotencyStore);
    await new IdempotencyKeys(app, {}).run(request, async () => createdResponse);
    expect(await store.claim(request.scope, request.key, 'other', new Date(Date.now() + 1000))).toMatchObject(
      {
        state: 'done',
        response: createdResponse,
      },
    );
    await app.dispose();

    const bare = await createApplication().build();
    const keys = new IdempotencyKeys(bare, {});
    await keys.run(request, async () => createdResponse);
    expect(await keys.run(request, async () => ({ status: 200, headers: {} }))).toMatchObject({
      replayed: true,
    });
    await bare.dispose();
  });
});
