// Type tests: checked by `npm run typecheck` (tsc), never run. A `@ts-expect-error` that finds no error fails the check.
import type { ProblemDetails } from '@myelin/core';
import { expectTypeOf, test } from 'vitest';
import { api, GetNote, type NoteDto } from '../testing/testApi.ts';
import { type ClientResult, createClient, type NotModified } from './client.ts';
import { get, type InputOf } from './route.ts';

const client = createClient(api, { baseUrl: 'https://notes.example', token: () => undefined });
declare const etag: string | undefined;

test('the input is the message without the fields the server fills in', async () => {
  expectTypeOf<InputOf<typeof api.writeNote>>().toEqualTypeOf<{
    id: string;
    text: string;
    tags?: string[] | undefined;
  }>();
  await client.writeNote({ id: 'n1', text: 'hi' });
  await client.writeNote({ id: 'n1', text: 'hi', tags: ['a'] });
  // @ts-expect-error author is filled in by the route's `with`, never by the caller
  await client.writeNote({ id: 'n1', text: 'hi', author: 'mallory' });
  // @ts-expect-error text is required
  await client.writeNote({ id: 'n1' });
  // @ts-expect-error the message has no such field
  await client.writeNote({ id: 'n1', text: 'hi', colour: 'red' });
  // @ts-expect-error tags are strings
  await client.writeNote({ id: 'n1', text: 'hi', tags: [1] });
  // @ts-expect-error the path's id is part of the input
  await client.getNote();
  // A route whose fields are all optional can be called without input.
  await client.listNotes();
  await client.listNotes({ limit: 5 });
  // @ts-expect-error limit is a number
  await client.listNotes({ limit: '5' });
  // The ifMatch field stays in the input (the client sends it as If-Match).
  await client.editNote({ id: 'n1', text: 'hi', expectedVersion: 3 });
  // @ts-expect-error an unknown route is not a method
  client.removeNote;
});

test('the result is the route’s result or a problem, narrowed on ok', async () => {
  const written = await client.writeNote({ id: 'n1', text: 'hi' });
  expectTypeOf(written).toEqualTypeOf<ClientResult<NoteDto>>();
  if (written.ok) {
    expectTypeOf(written.data).toEqualTypeOf<NoteDto>();
    expectTypeOf(written.location).toEqualTypeOf<string | undefined>();
    expectTypeOf(written.position).toEqualTypeOf<string | undefined>();
  } else {
    expectTypeOf(written.problem).toEqualTypeOf<ProblemDetails>();
    // @ts-expect-error a failure has no data
    written.data;
  }

  const deleted = await client.deleteNote({ id: 'n1' });
  if (deleted.ok) expectTypeOf(deleted.data).toEqualTypeOf<void>();

  const listed = await client.listNotes(
    { tag: 'a' },
    { minPosition: written.ok ? written.position : undefined },
  );
  if (listed.ok) expectTypeOf(listed.data).toEqualTypeOf<{ items: NoteDto[] }>();
});

test('a 304 is possible, and must be told apart, only when ifNoneMatch is given', async () => {
  const plain = await client.getNote({ id: 'n1' }, { signal: AbortSignal.timeout(1000) });
  expectTypeOf(plain).toEqualTypeOf<ClientResult<NoteDto>>();

  const cached = await client.getNote({ id: 'n1' }, { ifNoneMatch: '"1"' });
  expectTypeOf(cached).toEqualTypeOf<ClientResult<NoteDto> | NotModified>();
  if (cached.ok) {
    // @ts-expect-error a 304 has no data
    cached.data;
    if (cached.status !== 304) expectTypeOf(cached.data).toEqualTypeOf<NoteDto>();
  }

  // Options that only may carry ifNoneMatch count as asking.
  const maybe = await client.getNote({ id: 'n1' }, etag === undefined ? {} : { ifNoneMatch: etag });
  expectTypeOf(maybe).toEqualTypeOf<ClientResult<NoteDto> | NotModified>();

  // @ts-expect-error ifMatch is a version, not a boolean
  await client.editNote({ id: 'n1', text: 'hi' }, { ifMatch: true });
});

test('a route’s path names only fields of its message', () => {
  get('/notes/{id}', GetNote);
  // @ts-expect-error GetNote has no field `nope`
  get('/notes/{nope}', GetNote);
});
