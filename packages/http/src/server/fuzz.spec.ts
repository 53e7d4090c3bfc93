// Random requests over every route of the test API: never a 5xx, never a crash, always problem+json on failure.
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, auth, testServer } from '../testing/testApi.ts';
import { issueToken } from './devTokens.ts';

let server: FastifyInstance;
let tokens: string[];
beforeAll(async () => {
  ({ server } = await testServer({ fastify: { logger: { level: 'error' } } }));
  tokens = await Promise.all(
    [['writer'], ['editor'], ['reader'], []].map(
      async (roles) => `Bearer ${await issueToken(auth, { username: 'fuzz', password: '', roles }, 600)}`,
    ),
  );
});
afterAll(() => server.close());

// The one route that throws on purpose (to test the 500) is left out.
const fuzzed = Object.values(api).filter((route) => route.path !== '/crash');

const segment = fc.oneof(
  fc.constantFrom('n1', 'x', '', '..', '%', '%2F', '%00', 'a b', '🍕', '-1', '1e309', 'null'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const json = fc.jsonValue({ maxDepth: 3 });
const fieldValue = fc.oneof(json, fc.string({ maxLength: 30 }), fc.constant('x'.repeat(600)));
const payloadObject = fc.dictionary(
  fc.constantFrom(
    'id',
    'text',
    'tags',
    'author',
    'expectedVersion',
    'tag',
    'limit',
    '__proto__',
    'constructor',
  ),
  fieldValue,
);
const body = fc.oneof(
  payloadObject.map((value) => ({ payload: JSON.stringify(value), type: 'application/json' })),
  json.map((value) => ({ payload: JSON.stringify(value), type: 'application/json' })),
  fc.string({ maxLength: 40 }).map((text) => ({ payload: text, type: 'application/json' })),
  fc.string({ maxLength: 40 }).map((text) => ({ payload: text, type: 'text/plain' })),
  fc.constant({ payload: '', type: 'application/json' }),
);
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom('tag', 'limit', 'id', 'text', 'x', 'access_token'),
      fc.string({ maxLength: 10 }),
    ),
    {
      maxLength: 4,
    },
  )
  .map((pairs) => pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'));
const headers = fc.record(
  {
    authorization: fc.oneof(
      fc.constantFrom(...[0, 1, 2, 3].map(String)),
      fc.string({ maxLength: 30 }).map((s) => `Bearer ${s}`),
      fc.string({ maxLength: 30 }),
    ),
    'if-match': fc.oneof(fc.constantFrom('"1"', 'W/"2"', '*', '"a", "b"', ''), fc.string({ maxLength: 10 })),
    'if-none-match': fc.constantFrom('"1"', '*', 'W/"x"'),
    'idempotency-key': fc.oneof(fc.uuid(), fc.string({ maxLength: 300 })),
    'myelin-position': fc.oneof(
      fc.constantFrom('1.0', '0.0', '99999999999999999999.1'),
      fc.string({ maxLength: 12 }),
    ),
    'x-correlation-id': fc.string({ maxLength: 20 }),
  },
  { requiredKeys: [] },
);
const request = fc.record({
  route: fc.constantFrom(...fuzzed),
  method: fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
  ),
  segments: fc.array(segment, { minLength: 1, maxLength: 2 }),
  query,
  body,
  headers,
});

describe('fuzzing every route', () => {
  it('never answers 5xx, and answers every failure with problem+json', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let index = 0;
        const path = r.route.path.replaceAll(
          /\{[^}]*\}/g,
          () => r.segments[index++ % r.segments.length] ?? 'x',
        );
        const given = Object.fromEntries(
          Object.entries(r.headers).map(([name, value]) =>
            name === 'authorization' && /^[0-3]$/.test(value)
              ? [name, tokens[Number(value)] ?? '']
              : [name, value],
          ),
        );
        const method = (r.method ?? r.route.method) as
          | 'GET'
          | 'POST'
          | 'PUT'
          | 'PATCH'
          | 'DELETE'
          | 'OPTIONS';
        const res = await server.inject({
          method,
          url: r.query === '' ? path : `${path}?${r.query}`,
          headers: { ...given, 'content-type': r.body.type },
          ...(method === 'GET' || method === 'OPTIONS' ? {} : { payload: r.body.payload }),
        });
        expect(res.statusCode, `${method} ${path} → ${res.body}`).toBeLessThan(500);
        if (res.statusCode >= 400) {
          expect(res.headers['content-type'], `${method} ${path} ${res.statusCode} → ${res.body}`).toBe(
            'application/problem+json; charset=utf-8',
          );
          expect(res.json()).toMatchObject({ status: res.statusCode });
        }
      }),
      { numRuns: 3000 },
    );
  });
});
