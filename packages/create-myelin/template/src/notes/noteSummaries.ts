// The read model: one document per note, kept up to date in the same transaction as each write (inline).
import { documents, projection } from '@myelin/core';
import { NoteWritten } from './note.ts';

export interface NoteSummary {
  readonly id: string;
  readonly title: string;
  readonly text: string;
  readonly words: number;
}

export const NoteSummaries = documents<NoteSummary>('note-summaries');

export const noteSummaries = projection(NoteSummaries, { mode: 'inline' }).on(NoteWritten, (e, docs) =>
  docs.put(e.id, {
    id: e.id,
    title: e.title,
    text: e.text,
    words: e.text.split(/\s+/).filter(Boolean).length,
  }),
);
