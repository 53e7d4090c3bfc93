import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { issueToken } from '../server/devTokens.ts';
import { api, auth, type NoteDto, testServer } from '../testing/testApi.ts';
import { type ClientOptions, createClient } from './client.ts';

let server: FastifyInstance;
let baseUrl: string;
let writerToken: string;
beforeAll(async () => {
  ({ server } = await testServer());
  baseUrl = await server.listen({ port: 0, host: '127.0.0.1' });
  writerToken = await issueToken(auth, { username: 'alice', password: '', roles: ['writer'] }, 60);
});
afterAll(async () => {
  await server.close();
});

/** A request as the client sent it, recorded on the way out, so tests can see headers the server consumes. */
interface Sent {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly body: string | undefined;
}
let sent: Sent[] = [];
beforeEach(() => {
  sent = [];
});
const recording: typeof fetch = async (url, init) => {
  sent.push({
    method: init?.method ?? 'GET',
    url: String(url),
    headers: new Headers(init?.headers),
    body: typeof init?.body === 'string' ? init.body : undefined,
  });
  return fetch(url, init);
};
/** A client that records what it sends; the writer's unless other options are given. */
function client(options: Omit<ClientOptions, 'baseUrl' | 'fetch'> = { token: writerToken }) {
  return createClient(api, { baseUrl, fetch: recording, ...options });
}
function lastSent(): Sent {
  const last = sent.at(-1);
  if (last === undefined) throw new Error('nothing was sent');
  return last;
}
let ids = 0;
/** A note id no other test uses, since the tests share one server. */
function newId(): string {
  return `note-${++ids}`;
}

describe('createClient', () => {
  it('writes: 201 with the typed data, Location and Bearer token; the server fills the author', async () => {
    const id = newId();
    const written = await client().writeNote({ id, text: 'hello', tags: ['a', 'b'] });
    expect(written).toMatchObject({ ok: true, status: 201, location: `/notes/${id}` });
    if (!written.ok) throw new Error('expected a success');
    const note: NoteDto = written.data;
    expect(note).toEqual({ id, text: 'hello', tags: ['a', 'b'], version: 1, author: 'alice' });
    expect(lastSent()).toMatchObject({ method: 'POST', url: `${baseUrl}/notes` });
    expect(lastSent().headers.get('authorization')).toBe(`Bearer ${writerToken}`);
    expect(lastSent().headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(lastSent().body ?? '')).toEqual({ id, text: 'hello', tags: ['a', 'b'] });
  });

  it('reads: 200 with an ETag, and 304 (notModified) when the copy named by ifNoneMatch is current', async () => {
    const id = newId();
    await client().writeNote({ id, text: 'hello' });
    const read = await client().getNote({ id });
    expect(read).toMatchObject({ ok: true, status: 200, etag: '"1"', data: { id, version: 1 } });
    // The path's values go in the path only.
    expect(lastSent().url).toBe(`${baseUrl}/notes/${id}`);

    const again = await client().getNote({ id }, { ifNoneMatch: read.ok ? read.etag : undefined });
    expect(again).toEqual({ ok: true, status: 304, notModified: true, etag: '"1"' });
    expect(lastSent().headers.get('if-none-match')).toBe('"1"');
    // A bare version is quoted into an entity tag.
    expect(await client().getNote({ id }, { ifNoneMatch: '1' })).toMatchObject({ status: 304 });
  });

  it('answers an unknown resource with a 404 problem, encoding the path parameter', async () => {
    const missing = await client().getNote({ id: 'a/b c?' });
    expect(lastSent().url).toBe(`${baseUrl}/notes/a%2Fb%20c%3F`);
    expect(missing.ok).toBe(false);
    if (missing.ok) return;
    expect(missing.status).toBe(404);
    expect(missing.problem).toMatchObject({ status: 404, title: 'Not Found', key: 'a/b c?' });
  });

  it('sends the ifMatch field of the input as If-Match, not in the body: 412 on a mismatch', async () => {
    const id = newId();
    await client().writeNote({ id, text: 'v1' });
    const stale = await client().editNote({ id, text: 'v2', expectedVersion: 7 });
    expect(lastSent().headers.get('if-match')).toBe('"7"');
    expect(JSON.parse(lastSent().body ?? '')).toEqual({ text: 'v2' });
    expect(stale).toMatchObject({
      ok: false,
      status: 412,
      problem: { status: 412, title: 'Precondition Failed' },
    });

    const edited = await client().editNote({ id, text: 'v2', expectedVersion: 1 });
    expect(edited).toMatchObject({ ok: true, status: 200, data: { text: 'v2', version: 2 } });
    // The ifMatch option does the same, and takes an ETag as a read gave it.
    const viaOption = await client().editNote({ id, text: 'v3' }, { ifMatch: '"1"' });
    expect(viaOption).toMatchObject({ ok: false, status: 412 });
    await expect(client().editNote({ id, text: 'v3', expectedVersion: 2 }, { ifMatch: 1 })).rejects.toThrow(
      TypeError,
    );
  });

  it('sends a query in the query string: repeated arrays, numbers as text, undefined left out', async () => {
    const listed = await client().listNotes({ tag: 'a b&c', limit: 5 });
    expect(listed).toEqual({ ok: true, status: 200, data: { items: [] } });
    const url = new URL(lastSent().url);
    expect(url.pathname).toBe('/notes');
    expect([...url.searchParams]).toEqual([
      ['tag', 'a b&c'],
      ['limit', '5'],
    ]);
    expect(lastSent().body).toBeUndefined();

    await client().listNotes({ tag: undefined });
    expect(lastSent().url).toBe(`${baseUrl}/notes`);
    // The input is optional when no field is required.
    expect(await client().listNotes()).toMatchObject({ ok: true, status: 200 });
  });

  it('answers a 400 validation problem whose errors name the fields', async () => {
    const invalid = await client().writeNote({ id: 'Not An Id', text: '' });
    expect(invalid).toMatchObject({ ok: false, status: 400 });
    if (invalid.ok) return;
    expect(invalid.problem.errors?.map((e) => e.field).sort()).toEqual(['id', 'text']);

    const badQuery = await client().listNotes({ limit: 0 });
    expect(badQuery.ok ? [] : badQuery.problem.errors?.map((e) => e.field)).toEqual(['limit']);
  });

  it('answers 403 for a role that may not, and 401 without a token; asks a token function at each call', async () => {
    const forbidden = await client().deleteNote({ id: newId() });
    expect(forbidden).toMatchObject({ ok: false, status: 403, problem: { status: 403, title: 'Forbidden' } });

    const anonymous = await client({}).writeNote({ id: newId(), text: 'x' });
    expect(anonymous).toMatchObject({ ok: false, status: 401 });
    expect(lastSent().headers.has('authorization')).toBe(false);

    let asked = 0;
    const editorToken = await issueToken(auth, { username: 'ed', password: '', roles: ['editor'] }, 60);
    const editor = client({
      token: async () => {
        asked++;
        return editorToken;
      },
    });
    const id = newId();
    await editor.writeNote({ id, text: 'x' });
    const deleted = await editor.deleteNote({ id });
    expect(deleted).toEqual({ ok: true, status: 204, data: undefined });
    expect(asked).toBe(2);
  });

  it('sends the idempotency key, the minimum position and the headers of the client and of the call', async () => {
    const id = newId();
    const first = await client().writeNote({ id, text: 'once' }, { idempotencyKey: `key-${id}` });
    // The same key again is a replay of the first answer, not a second write (which would be refused).
    const replay = await client().writeNote({ id, text: 'once' }, { idempotencyKey: `key-${id}` });
    expect(first).toMatchObject({ ok: true, status: 201 });
    expect(replay).toEqual(first);

    const position = first.ok ? first.position : undefined;
    expect(position).toMatch(/^\d+\.\d+$/);
    const withHeaders = client({ token: writerToken, headers: { 'x-app': 'notes', 'x-both': 'client' } });
    await withHeaders.getNote({ id }, { minPosition: position, headers: { 'x-both': 'call' } });
    const headers = lastSent().headers;
    expect(headers.get('myelin-position')).toBe(position ?? null);
    expect([headers.get('x-app'), headers.get('x-both')]).toEqual(['notes', 'call']);
  });

  it('wraps an error body that is not problem details in a problem; rejects on network errors', async () => {
    const proxied = createClient(api, {
      baseUrl,
      fetch: async () =>
        new Response('upstream is down', {
          status: 502,
          statusText: 'Bad Gateway',
          headers: { 'content-type': 'text/plain' },
        }),
    });
    expect(await proxied.getNote({ id: 'x' })).toEqual({
      ok: false,
      status: 502,
      problem: { type: 'about:blank', title: 'Bad Gateway', status: 502, detail: 'upstream is down' },
    });

    const failing = new TypeError('fetch failed');
    const offline = createClient(api, { baseUrl, fetch: () => Promise.reject(failing) });
    await expect(offline.getNote({ id: 'x' })).rejects.toBe(failing);
    // A real connection refused does the same (nothing listens on port 1).
    await expect(createClient(api, { baseUrl: 'http://127.0.0.1:1' }).listNotes()).rejects.toThrow(TypeError);
  });

  it('rejects an input without a path parameter before sending anything', async () => {
    await expect(client().getNote({} as { id: string })).rejects.toThrow("needs 'id' for its path");
    expect(sent).toEqual([]);
  });
});
