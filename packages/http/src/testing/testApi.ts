// Test support (not published): a small ordering API with every kind of route, used by the HTTP tests.
import {
  AggregateRoot,
  type Application,
  command,
  createApplication,
  created,
  event,
  handler,
  type Module,
  noContent,
  notFound,
  ok,
  preconditionFailed,
  query,
  type Repository,
  token,
  UnavailableError,
} from '@myelin/core';
import { inMemoryPersistence, inMemoryStateStoredRepository } from '@myelin/core/memory';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { del, get, post, put, routes } from '../client/route.ts';
import { createServer, type ServerOptions } from '../server/server.ts';

export const secret = 'a-test-secret-of-at-least-32-characters!';
export const auth = { issuer: 'https://myelin.test', audience: 'test-api', secret };

export interface NoteDto {
  readonly id: string;
  readonly text: string;
  readonly tags: readonly string[];
  readonly version: number;
  readonly author: string;
}

const NoteWritten = event('test.note.written.v1', z.object({ id: z.string(), text: z.string() }));
type NoteState = { text: string; tags: string[]; author: string };
class Note extends AggregateRoot<NoteState, InstanceType<typeof NoteWritten>> {
  constructor(id: string, author = '') {
    super(id, { text: '', tags: [], author });
  }
  write(text: string, tags: string[]): void {
    this.raise(new NoteWritten({ id: this.id, text }));
    this.state.tags.splice(0, this.state.tags.length, ...tags);
  }
  protected override apply(state: NoteState, e: InstanceType<typeof NoteWritten>): NoteState {
    return { ...state, text: e.text };
  }
}
const Notes = token<Repository<Note>>('test.Notes');

function toDto(note: Note): NoteDto {
  return {
    id: note.id,
    text: note.state.text,
    tags: note.state.tags,
    version: note.nextVersion,
    author: note.state.author,
  };
}

export const WriteNote = command(
  'test.writeNote',
  z.object({
    id: z.string().regex(/^[a-z0-9-]{1,40}$/),
    text: z.string().min(1).max(500),
    tags: z.array(z.string().max(20)).max(5).optional(),
    author: z.string(),
  }),
).returns<NoteDto>();
export const EditNote = command(
  'test.editNote',
  z.object({
    id: z.string(),
    text: z.string().min(1).max(500),
    expectedVersion: z.number().int().optional(),
  }),
).returns<NoteDto>();
export const DeleteNote = command('test.deleteNote', z.object({ id: z.string() })).returns<void>();
export const GetNote = query('test.getNote', z.object({ id: z.string() })).returns<NoteDto>();
export const ListNotes = query(
  'test.listNotes',
  z.object({ tag: z.string().optional(), limit: z.number().int().min(1).max(100).optional() }),
).returns<{ items: NoteDto[] }>();
export const Crash = command('test.crash', z.object({ reason: z.string().optional() })).returns<void>();

export const api = routes({
  writeNote: post('/notes', WriteNote, {
    with: ({ principal }) => ({ author: principal?.subject ?? 'anonymous' }),
    problems: [409],
  }),
  getNote: get('/notes/{id}', GetNote, { etag: (note) => note.version, problems: [404] }),
  listNotes: get('/notes', ListNotes),
  editNote: put('/notes/{id}', EditNote, { ifMatch: 'expectedVersion', problems: [404, 412] }),
  deleteNote: del('/notes/{id}', DeleteNote, { problems: [404] }),
  crash: post('/crash', Crash),
});

/** The application behind {@link api}: anyone reads, writers write, editors delete. */
export async function testApplication(): Promise<Application> {
  return createApplication().include(testModule).build();
}

/** The test API's handlers and policies, on memory: for applications that add behaviors of their own. */
export const testModule: Module = (builder) =>
  builder
    .include(inMemoryPersistence())
    .register(inMemoryStateStoredRepository(Notes, Note))
    .authorize(WriteNote, { roles: ['writer', 'editor'] })
    .authorize(EditNote, { roles: ['writer', 'editor'] })
    .authorize(DeleteNote, { roles: ['editor'] })
    .authorize(GetNote, { anonymous: true })
    .authorize(ListNotes, { anonymous: true })
    .authorize(Crash, { anonymous: true })
    .handle(
      handler(WriteNote, { notes: Notes }, async (c, { notes }) => {
        if (await notes.exists(c.id)) return preconditionFailed(`Note ${c.id} exists`);
        const note = new Note(c.id, c.author);
        note.write(c.text, c.tags ?? []);
        await notes.add(note);
        return created(toDto(note), `/notes/${c.id}`);
      }),
      handler(EditNote, { notes: Notes }, async (c, { notes }) => {
        const note = await notes.get(c.id);
        if (note === undefined) return notFound('Note', c.id);
        if (c.expectedVersion !== undefined && c.expectedVersion !== note.version) {
          return preconditionFailed(`Note ${c.id} is at version ${note.version}, not ${c.expectedVersion}`);
        }
        note.write(c.text, [...note.state.tags]);
        await notes.update(note);
        return ok(toDto(note));
      }),
      handler(DeleteNote, { notes: Notes }, async (c, { notes }) => {
        const note = await notes.get(c.id);
        if (note === undefined) return notFound('Note', c.id);
        await notes.remove(note);
        return noContent();
      }),
      handler(GetNote, { notes: Notes }, async (q, { notes }) => {
        const note = await notes.get(q.id);
        return note === undefined ? notFound('Note', q.id) : ok(toDto(note));
      }),
      handler(ListNotes, {}, async () => ok({ items: [] })),
      handler(Crash, {}, async (c) => {
        if (c.reason === 'unavailable')
          throw new UnavailableError('the database is down', { retryAfterSeconds: 3 });
        throw new Error(`boom: ${c.reason ?? 'no reason'} (a secret stack trace)`);
      }),
    );

/** A Fastify server with the plugin over a fresh {@link testApplication}; close it after use. */
export async function testServer(
  options: Partial<Omit<ServerOptions, 'app'>> = {},
): Promise<{ server: FastifyInstance; app: Application }> {
  const app = await testApplication();
  const server = await createServer({ app, routes: api, auth, fastify: { logger: false }, ...options });
  await server.ready();
  return { server, app };
}
