// The aggregate: a note, and the event it raises. Its state changes only by applying its own events.
import { AggregateRoot, event } from '@myelin/core';
import { z } from 'zod';

export const NoteWritten = event(
  'note.written.v1',
  z.object({ id: z.string(), title: z.string(), text: z.string() }),
  { description: 'A note was written, or written over' },
);
type NoteEvent = InstanceType<typeof NoteWritten>;

interface NoteState {
  readonly title: string;
  readonly text: string;
}

export class Note extends AggregateRoot<NoteState, NoteEvent> {
  constructor(id: string) {
    super(id, { title: '', text: '' });
  }

  write(title: string, text: string): void {
    if (title.trim() === '') throw new Error('A note needs a title');
    this.raise(new NoteWritten({ id: this.id, title, text }));
  }

  protected override apply(_state: NoteState, e: NoteEvent): NoteState {
    return { title: e.title, text: e.text };
  }
}
