// The application: persistence, the repository, the projection, every handler and who may send what.
import { type Application, createApplication } from '@myelin/core';
import {
  type Database,
  postgresEventSourcedRepository,
  postgresPersistence,
  postgresProjections,
} from '@myelin/postgres';
import { GetNote, getNote } from './notes/getNote.ts';
import { logWrites } from './notes/logWrites.ts';
import { Note, NoteWritten } from './notes/note.ts';
import { noteSummaries } from './notes/noteSummaries.ts';
import { Notes, WriteNote, writeNote } from './notes/writeNote.ts';

export function buildApp(database: Database): Promise<Application> {
  return (
    createApplication()
      .include(postgresPersistence(database), postgresProjections([noteSummaries]))
      .register(postgresEventSourcedRepository(Notes, Note, { events: [NoteWritten] }))
      // Anyone may, here; with auth, give roles: .authorize(WriteNote, { roles: ['writer'] })
      .authorize(WriteNote, { anonymous: true })
      .authorize(GetNote, { anonymous: true })
      .handle(writeNote, getNote, logWrites)
      .build()
  );
}
