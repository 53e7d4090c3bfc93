// A small service as a user writes it, against the packed packages: an event-sourced aggregate, a command and a
// query, persisted by @myelin/postgres (on PGlite, then on the PostgreSQL server at DATABASE_URL), served by
// @myelin/http, and called through the typed client. It prints what it saw as one JSON line.
import {
  AggregateRoot,
  type Application,
  command,
  createApplication,
  handler,
  notFound,
  ok,
  type Repository,
  Schedule,
  TestClock,
  token,
  unchecked,
} from '@myelin/core';
import { createServer, issueToken } from '@myelin/http';
import { createClient } from '@myelin/http/client';
import {
  type Database,
  PostgresMessageScheduler,
  postgresEventSourcedRepository,
  postgresPersistence,
} from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import { pgliteDatabase } from '@myelin/postgres/pglite';
import { api, GetNote, NoteWritten, WriteNote } from './routes.ts';

type NoteEvent = InstanceType<typeof NoteWritten>;

class Note extends AggregateRoot<{ text: string }, NoteEvent> {
  constructor(id: string) {
    super(id, { text: '' });
  }
  write(text: string): void {
    this.raise(new NoteWritten({ id: this.id, text }));
  }
  protected override apply(_state: { text: string }, e: NoteEvent): { text: string } {
    return { text: e.text };
  }
}

const Notes = token<Repository<Note>>('Notes');

/** Scheduled by each note written, a minute later: it writes a second note. */
const Remind = command('consumer.remind', unchecked<{ id: string }>()).returns<void>();

async function application(database: Database, clock: TestClock): Promise<Application> {
  return createApplication()
    .include(postgresPersistence(database, { clock }))
    .register(postgresEventSourcedRepository(Notes, Note, { events: [NoteWritten] }))
    .authorize(WriteNote, { anonymous: true })
    .authorize(GetNote, { anonymous: true })
    .handle(
      handler(WriteNote, { notes: Notes, schedule: Schedule }, async (c, { notes, schedule }) => {
        const note = new Note(c.id);
        note.write(c.text);
        await notes.add(note);
        schedule.send(new Remind({ id: c.id }), { after: 60_000 });
        return ok({ id: c.id, text: c.text });
      }),
      handler(Remind, { notes: Notes }, async (c, { notes }) => {
        const note = new Note(`${c.id}-reminder`);
        note.write(`remember ${c.id}`);
        await notes.add(note);
        return ok(undefined);
      }),
      handler(GetNote, { notes: Notes }, async (q, { notes }) => {
        const note = await notes.get(q.id);
        return note === undefined ? notFound('Note', q.id) : ok({ id: note.id, text: note.state.text });
      }),
    )
    .build();
}

async function run(database: Database): Promise<unknown> {
  const clock = new TestClock();
  const app = await application(database, clock);
  const scheduler = new PostgresMessageScheduler(app, database).start();
  await scheduler.active();
  // A secret made for this run: none lives in the repository.
  const auth = {
    issuer: 'https://consumer.test',
    audience: 'consumer',
    secret: crypto.randomUUID().repeat(2),
  };
  const server = await createServer({
    app,
    routes: api,
    auth,
    console: { role: 'ops' },
    disposeOnClose: false,
  });
  try {
    const baseUrl = await server.listen({ port: 0, host: '127.0.0.1' });
    const client = createClient(api, { baseUrl });
    const written = await client.writeNote({ id: 'n1', text: 'hello' });
    const read = await client.getNote({ id: 'n1' });
    const missing = await client.getNote({ id: 'nope' });
    const invalid = await client.writeNote({ id: 'n2', text: '' });
    // A minute later by the application's clock, the scheduled reminder has written its note.
    await clock.advance(60_000);
    const reminder = await client.getNote({ id: 'n1-reminder' });
    // Without the optional renderer installed, /docs is the built-in page of the operations.
    const docs = await fetch(`${baseUrl}/docs`);
    const page = await docs.text();
    // The console's page and script ship in the package; its API answers the role.
    const consolePage = await fetch(`${baseUrl}/_myelin`);
    const consoleScript = await fetch(`${baseUrl}/_myelin/console.js`);
    const token = await issueToken(auth, { username: 'ops-1', password: '', roles: ['ops'] }, 60);
    const status = await fetch(`${baseUrl}/_myelin/api/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const subscriptions = ((await status.json()) as { subscriptions?: unknown }).subscriptions;
    const served =
      consolePage.status === 200 &&
      (await consolePage.text()).includes('Myelin console') &&
      consoleScript.status === 200 &&
      Array.isArray(subscriptions);
    return {
      console: served ? 'served' : `${consolePage.status} ${consoleScript.status} ${status.status}`,
      docs: docs.status === 200 && page.includes('/notes/{id}') ? 'listed' : `${docs.status}`,
      written: written.ok ? written.data : written.problem.status,
      read: read.ok ? read.data : read.problem.status,
      missing: missing.ok ? 'found' : missing.problem.status,
      invalid: invalid.ok ? 'accepted' : invalid.problem.status,
      scheduled: reminder.ok ? reminder.data.text : reminder.problem.status,
    };
  } finally {
    await scheduler.stop();
    await server.close();
    await app.dispose();
  }
}

const pglite = await pgliteDatabase();
const onPglite = await run(pglite);
await pglite.close();

const schema = `consumer_${process.pid}_${Date.now()}`;
const connectionString = process.env.DATABASE_URL;
if (connectionString === undefined) throw new Error('Set DATABASE_URL to a PostgreSQL server');
const server = postgresDatabase({ connectionString, schema, max: 2 });
let onPostgres: unknown;
try {
  onPostgres = await run(server);
} finally {
  await server.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await server.close();
}
console.log(JSON.stringify({ node: process.version, pglite: onPglite, postgres: onPostgres }));
