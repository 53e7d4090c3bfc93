// Idempotency-Key replays kept by @myelin/postgres: the HTTP layer's store is the database's table when the
// application has PostgreSQL persistence.
import { command, createApplication, created, handler, serviceUnavailable } from '@myelin/core';
import { myelin } from '@myelin/http';
import { post } from '@myelin/http/client';
import { postgresPersistence } from '@myelin/postgres';
import { pgliteDatabase } from '@myelin/postgres/pglite';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

const servers: FastifyInstance[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

describe('Idempotency-Key on PostgreSQL (PGlite)', () => {
  it('keeps the response in the idempotency_keys table, and a 5xx not at all', async () => {
    const Register = command('test.register', z.object({ id: z.string() })).returns<{ id: string }>();
    let runs = 0;
    const database = await pgliteDatabase({ schema: 'idempotency_test' });
    const app = await createApplication()
      .include(postgresPersistence(database, { closeOnDispose: true }))
      .authorize(Register, { anonymous: true })
      .handle(
        handler(Register, {}, async (c) => {
          runs++;
          // The first run fails as a dependency would: a 503 that must not be kept.
          return runs === 1 ? serviceUnavailable() : created({ id: c.id }, `/things/${c.id}`);
        }),
      )
      .build();
    const server = Fastify({ logger: false });
    servers.push(server);
    server.addHook('onClose', () => app.dispose());
    await server.register(myelin, { app, routes: { register: post('/things', Register) } });
    const register = () =>
      server.inject({
        method: 'POST',
        url: '/things',
        headers: { 'idempotency-key': 'pg-key' },
        payload: { id: 't1' },
      });

    expect((await register()).statusCode).toBe(503);
    const stored = await register();
    expect(stored.statusCode).toBe(201);
    const replayed = await register();
    expect(replayed.statusCode).toBe(201);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.body).toBe(stored.body);
    expect(runs).toBe(2);

    const { rows } = await database.query<{ scope: string; key: string; status: string; response: unknown }>(
      `SELECT scope, key, status, response FROM ${database.schema}.idempotency_keys`,
    );
    expect(rows).toEqual([
      {
        scope: 'anonymous:127.0.0.1 POST /things',
        key: 'pg-key',
        status: 'done',
        response: {
          status: 201,
          headers: expect.objectContaining({ location: '/things/t1' }),
          body: { id: 't1' },
        },
      },
    ]);
  });
});
