import { describe, expect, it } from 'vitest';
import { testServer } from '../testing/testApi.ts';

describe('health and readiness', () => {
  it('says alive at /health, and ready at /ready only when every check passes in time', async () => {
    let databaseUp = true;
    const { server } = await testServer({
      health: {
        timeoutMs: 200,
        checks: [
          { name: 'database', check: async () => ({ ok: databaseUp }) },
          { name: 'cache', check: async () => ({ ok: true, detail: { entries: 3 } }) },
        ],
      },
    });
    try {
      const alive = await server.inject({ method: 'GET', url: '/health' });
      expect([alive.statusCode, alive.json()]).toEqual([200, { status: 'ok' }]);
      const ready = await server.inject({ method: 'GET', url: '/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({
        status: 'ready',
        checks: [
          { name: 'database', ok: true },
          { name: 'cache', ok: true, detail: { entries: 3 } },
        ],
      });
      databaseUp = false;
      const down = await server.inject({ method: 'GET', url: '/ready' });
      expect([down.statusCode, down.json().status]).toEqual([503, 'unready']);
    } finally {
      await server.close();
    }
  });

  it('fails a check that throws or does not answer in time', async () => {
    const { server } = await testServer({
      health: {
        timeoutMs: 100,
        checks: [
          { name: 'slow', check: () => new Promise(() => {}) },
          { name: 'broken', check: async () => Promise.reject(new Error('connection refused')) },
        ],
      },
    });
    try {
      const res = await server.inject({ method: 'GET', url: '/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json().checks).toEqual([
        { name: 'slow', ok: false, detail: 'no answer in 100 ms' },
        { name: 'broken', ok: false, detail: 'connection refused' },
      ]);
    } finally {
      await server.close();
    }
  });
});
