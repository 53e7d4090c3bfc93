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
});
