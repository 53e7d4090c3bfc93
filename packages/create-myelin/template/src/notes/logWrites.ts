// An event handler: runs after the write committed, through the event relay (retried, never twice).
import { eventHandler } from '@myelin/core';
import { NoteWritten } from './note.ts';

export const logWrites = eventHandler('logWrites', NoteWritten, {}, (e) => {
  console.log(`note ${e.id} written: ${e.title}`);
});
