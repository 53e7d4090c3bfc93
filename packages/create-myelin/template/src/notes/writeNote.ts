// The command and its handler: load or create the aggregate, change it, return what the caller needs.
import { command, handler, ok, type Repository, token } from '@myelin/core';
import { z } from 'zod';
import { Note } from './note.ts';

export const Notes = token<Repository<Note>>('Notes');

export const WriteNote = command(
  'WriteNote',
  z.object({
    id: z.string().regex(/^[a-z0-9-]{1,40}$/),
    title: z.string().min(1).max(200),
    text: z.string().max(10_000),
  }),
  { description: 'Writes a note, or writes over it' },
).returns<{ id: string }>();

export const writeNote = handler(WriteNote, { notes: Notes }, async (c, { notes }) => {
  const existing = await notes.get(c.id);
  const note = existing ?? new Note(c.id);
  note.write(c.title, c.text);
  if (existing === undefined) await notes.add(note);
  else await notes.update(note);
  return ok({ id: c.id });
});
