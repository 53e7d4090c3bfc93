import { createApplication, handler, ok, query } from '@myelin/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { get, routes } from '../client/route.ts';
import { createServer } from './server.ts';

const Wait = query('test.wait', z.object({ ms: z.number().int().max(5000) })).returns<{ waited: number }>();

describe('closing the server', () => {
  it('finishes in-flight requests, refuses new ones, then disposes the application', async () => {
    let disposed = false;
    const app = await createApplication()
      .authorize(Wait, { anonymous: true })
      .handle(
        handler(Wait, {}, async ({ ms }) => {
          await new Promise((resolve) => setTimeout(resolve, ms));
          return ok({ waited: ms });
        }),
      )
      .build();
    const watched = {
      ...app,
      async dispose() {
        disposed = true;
        await app.dispose();
      },
    };
    const server = await createServer({
      app: watched,
      routes: routes({ wait: get('/wait', Wait) }),
      fastify: { logger: false },
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.addresses()[0] as { port: number };
    const inFlight = fetch(`http://127.0.0.1:${port}/wait?ms=400`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = server.close();
    const late = await fetch(`http://127.0.0.1:${port}/wait?ms=0`, {
      signal: AbortSignal.timeout(2000),
    }).then(
      (res) => res.status,
      () => 'refused',
    );
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ waited: 400 });
    expect([503, 'refused']).toContain(late);
    await closing;
    expect(disposed).toBe(true);
  });
});
