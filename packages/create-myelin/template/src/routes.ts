// The HTTP API: each route bound to its message. The same declarations type the client.
import { get, put, routes } from '@myelin/http/client';
import { GetNote } from './notes/getNote.ts';
import { WriteNote } from './notes/writeNote.ts';

export const api = routes({
  writeNote: put('/notes/{id}', WriteNote),
  getNote: get('/notes/{id}', GetNote, { problems: [404] }),
});
