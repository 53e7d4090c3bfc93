// The service's contract: its messages and HTTP routes. It imports no server code, so a browser bundle can use it
// with the typed client (client.ts).
import { command, event, query } from '@myelin/core';
import { get, post, routes } from '@myelin/http/client';
import { z } from 'zod';

export const NoteWritten = event('consumer.note.written.v1', z.object({ id: z.string(), text: z.string() }));

export const WriteNote = command(
  'consumer.writeNote',
  z.object({ id: z.string(), text: z.string().min(1) }),
).returns<{ id: string; text: string }>();

export const GetNote = query('consumer.getNote', z.object({ id: z.string() })).returns<{
  id: string;
  text: string;
}>();

export const api = routes({
  writeNote: post('/notes', WriteNote),
  getNote: get('/notes/{id}', GetNote, { problems: [404] }),
});
