// The aggregate with given/when/then, and the API end to end on an in-memory PGlite.
import { given } from '@myelin/core/testing';
import { createServer } from '@myelin/http';
import { pgliteDatabase } from '@myelin/postgres/pglite';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { Note, NoteWritten } from '../src/notes/note.ts';
import { api } from '../src/routes.ts';

describe('a note', () => {
  it('is written', () => {
    given(Note)
      .withId('n1')
      .when((note) => note.write('Shopping', 'milk, eggs'))
      .thenEvents(new NoteWritten({ id: 'n1', title: 'Shopping', text: 'milk, eggs' }));
  });

  it('needs a title', () => {
    given(Note)
      .when((note) => note.write(' ', 'text'))
      .thenError('A note needs a title');
  });
});

describe('the API', () => {
  it('writes a note and reads it back with its word count; an unknown one is a 404', async () => {
    const database = await pgliteDatabase();
    const app = await buildApp(database);
    const server = await createServer({ app, routes: api, fastify: { logger: false } });
    try {
      const written = await server.inject({
        method: 'PUT',
        url: '/notes/n1',
        payload: { title: 'Shopping', text: 'milk eggs bread' },
      });
      expect(written.statusCode).toBe(200);
      const read = await server.inject({ method: 'GET', url: '/notes/n1' });
      expect(read.json()).toMatchObject({ id: 'n1', title: 'Shopping', words: 3 });
      expect((await server.inject({ method: 'GET', url: '/notes/nope' })).statusCode).toBe(404);
      const invalid = await server.inject({ method: 'PUT', url: '/notes/n2', payload: { title: '' } });
      expect(invalid.statusCode).toBe(400);
    } finally {
      await server.close();
      await database.close();
    }
  });
});
