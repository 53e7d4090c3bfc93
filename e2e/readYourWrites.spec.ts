// Read-your-writes across HTTP on PGlite: a command's response names the log position of its write, and a query
// sent with it waits for the async read model to reach it.
import {
  AggregateRoot,
  command,
  createApplication,
  documents,
  event,
  handler,
  notFound,
  ok,
  projection,
  query,
  type Repository,
  token,
} from '@myelin/core';
import { createServer } from '@myelin/http';
import { get, post, routes } from '@myelin/http/client';
import {
  ProjectionDaemon,
  postgresEventSourcedRepository,
  postgresPersistence,
  postgresProjections,
} from '@myelin/postgres';
import { pgliteDatabase } from '@myelin/postgres/pglite';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const Counted = event('rw.counted.v1', z.object({ id: z.string(), by: z.number() }));
class Counter extends AggregateRoot<{ n: number }, InstanceType<typeof Counted>> {
  constructor(id: string) {
    super(id, { n: 0 });
  }
  count(by: number): void {
    this.raise(new Counted({ id: this.id, by }));
  }
  protected override apply(state: { n: number }, e: InstanceType<typeof Counted>) {
    return { n: state.n + e.by };
  }
}
const Counters = token<Repository<Counter>>('rw.Counters');
const Count = command('rw.count', z.object({ id: z.string(), by: z.number().int() })).returns<void>();
const GetTotal = query('rw.total', z.object({ id: z.string() })).returns<{ n: number }>();
const totals = documents<{ n: number }>('rw-totals');

describe('read-your-writes over HTTP', () => {
  it('sends the position of a write, and a query given it sees the write in an async read model', async () => {
    const database = await pgliteDatabase();
    const app = await createApplication()
      .include(
        postgresPersistence(database),
        postgresProjections([
          projection(totals, { mode: 'async' }).on(Counted, async (e, docs) => {
            const current = await docs.get(e.id);
            await docs.put(e.id, { n: (current?.n ?? 0) + e.by });
          }),
        ]),
      )
      .register(postgresEventSourcedRepository(Counters, Counter, { events: [Counted] }))
      .authorize(Count, { anonymous: true })
      .authorize(GetTotal, { anonymous: true })
      .handle(
        handler(Count, { counters: Counters }, async (c, { counters }) => {
          const found = await counters.get(c.id);
          const counter = found ?? new Counter(c.id);
          counter.count(c.by);
          await (found === undefined ? counters.add(counter) : counters.update(counter));
          return ok(undefined);
        }),
        handler(GetTotal, { totals }, async (q, { totals }) => {
          const found = await totals.get(q.id);
          return found === undefined ? notFound('Total', q.id) : ok(found);
        }),
      )
      .build();
    // The daemon applies the write after its commit; without the position, the query could run before that.
    const daemon = new ProjectionDaemon(app, database, { pollMs: 60_000 }).start();
    const server = await createServer({
      app,
      routes: routes({ count: post('/counters/{id}', Count), total: get('/counters/{id}', GetTotal) }),
      fastify: { logger: false },
    });
    try {
      const write = await server.inject({ method: 'POST', url: '/counters/c1', payload: { by: 2 } });
      expect(write.statusCode).toBe(204);
      const position = write.headers['myelin-position'];
      expect(position).toMatch(/^\d+\.\d+$/);
      const read = await server.inject({
        method: 'GET',
        url: '/counters/c1',
        headers: { 'myelin-position': String(position) },
      });
      expect([read.statusCode, read.json()]).toEqual([200, { n: 2 }]);

      const bad = await server.inject({
        method: 'GET',
        url: '/counters/c1',
        headers: { 'myelin-position': 'soon' },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().detail).toMatch(/myelin-position/);
    } finally {
      await server.close();
      await daemon.stop();
      await database.close();
    }
  });
});
