// The pizzeria's OpenAPI document, judged by Redocly's recommended rules as API reviewers and code generators
// would judge it: no error and no warning.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testServer } from '../testing/testPizzeria.ts';

const redocly = new URL('../../../../node_modules/.bin/redocly', import.meta.url).pathname;

describe('the OpenAPI document', () => {
  it("passes Redocly's recommended rules with no error and no warning", async () => {
    const t = await testServer();
    const dir = mkdtempSync(join(tmpdir(), 'pizzeria-openapi-'));
    try {
      const document = (await t.server.inject({ method: 'GET', url: '/openapi.json' })).body;
      const file = join(dir, 'openapi.json');
      writeFileSync(file, document);
      // Exit code 1 on errors; the report says everything either way.
      const { stdout } = await promisify(execFile)(redocly, ['lint', file, '--format', 'json']).catch(
        (error: { stdout: string }) => ({ stdout: error.stdout }),
      );
      const report = JSON.parse(stdout) as {
        totals: { errors: number; warnings: number };
        problems: { ruleId: string; message: string }[];
      };
      expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await t[Symbol.asyncDispose]();
    }
  });

  it('describes the body of every successful answer with a schema, not as any JSON', async () => {
    await using t = await testServer();
    const document = (await t.server.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
      >;
    };
    const untyped: string[] = [];
    let described = 0;
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          const schema = response.content?.['application/json']?.schema;
          if (!status.startsWith('2') || schema === undefined) continue;
          if (Object.keys(schema).length === 0) untyped.push(`${method.toUpperCase()} ${path} ${status}`);
          else described++;
        }
      }
    }
    expect(untyped).toEqual([]);
    expect(described).toBeGreaterThanOrEqual(15); // every route of routes.ts that answers a body
  });

  it('types every body for openapi-typescript and openapi-fetch, as a client in another codebase gets it', async () => {
    const t = await testServer();
    const dir = mkdtempSync(join(tmpdir(), 'pizzeria-openapi-client-'));
    try {
      writeFileSync(join(dir, 'openapi.json'), (await t.server.inject('/openapi.json')).body);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
      // The generator uses TypeScript's JavaScript API, which TypeScript 7 does not have: its own 5.x.
      await promisify(execFile)(
        'npm',
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          'openapi-typescript@7.13.0',
          'openapi-fetch@0.17.0',
          'typescript@5.9.3',
        ],
        { cwd: dir, timeout: 240_000 },
      );
      await promisify(execFile)(
        join(dir, 'node_modules/.bin/openapi-typescript'),
        ['openapi.json', '-o', 'schema.d.ts'],
        {
          cwd: dir,
        },
      );
      const use = (body: string) => `import createClient from 'openapi-fetch';
import type { paths } from './schema.js';
const client = createClient<paths>({ baseUrl: 'http://pizzeria.test' });
export async function use(): Promise<void> {
  const { data: order } = await client.GET('/api/orders/{id}', { params: { path: { id: '1' }, query: {} } });
  const { data: stats } = await client.GET('/api/stats');
  const { data: page } = await client.GET('/api/kitchen/queue', { params: { query: {} } });
  if (order === undefined || stats === undefined || page === undefined) return;
  ${body}
}
`;
      const check = async (body: string) => {
        writeFileSync(join(dir, 'use.ts'), use(body));
        return promisify(execFile)(
          join(dir, 'node_modules/.bin/tsc'),
          [
            '--noEmit',
            '--strict',
            '--module',
            'nodenext',
            '--moduleResolution',
            'nodenext',
            '--skipLibCheck',
            'use.ts',
          ],
          { cwd: dir },
        ).then(
          () => '',
          (error: { stdout: string }) => error.stdout,
        );
      };
      // Typed, not unknown: each body has its declared fields, with their types.
      expect(
        await check(`const total: number = order.total;
  const status: 'confirmed' | 'cooking' | 'ready' | 'delivering' | 'delivered' | 'cancelled' = order.status;
  const cooking: number = stats.ordersByStatus.cooking;
  const first: string | undefined = page.items[0]?.customerName;
  void [total, status, cooking, first];`),
      ).toBe('');
      // And a mistake is caught: a number is not a string, and there is no such field.
      const mistakes = await check(`const total: string = order.total;
  void stats.nonsense;
  void total;`);
      expect(mistakes).toContain("Type 'number' is not assignable to type 'string'");
      expect(mistakes).toContain("Property 'nonsense' does not exist");
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await t[Symbol.asyncDispose]();
    }
  }, 300_000);
});
