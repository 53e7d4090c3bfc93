// The pizzeria's client side as a browser would load it: its routes and messages with the typed client, bundled by
// esbuild for the browser. None of the server (Fastify, the handlers, the database drivers, node:*) may come along.
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('the client side in a browser bundle', () => {
  it('bundles the routes, the messages and the typed client with no server code', async () => {
    const bundled = await build({
      stdin: {
        contents: `import { createClient } from '@myelin/http/client';
          import { api } from './routes.ts';
          export const client = createClient(api, { baseUrl: location.origin });`,
        resolveDir: new URL('.', import.meta.url).pathname,
        loader: 'ts',
      },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      conditions: ['@myelin/source'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    expect(
      inputs.filter((input) => /fastify|packages\/postgres|pglite|node_modules\/pg\/|^node:/.test(input)),
    ).toEqual([]);
    // Of each area, only its contract (messages and routes): no use case, so no handler, comes along.
    const areaFiles = inputs.filter((input) =>
      /^examples\/mario-pizzeria\/src\/(orders|kitchen|delivery|menu|stats)\//.test(input),
    );
    expect(areaFiles.sort()).toEqual(
      ['delivery', 'kitchen', 'menu', 'orders', 'stats'].map(
        (area) => `examples/mario-pizzeria/src/${area}/contract.ts`,
      ),
    );
    expect(inputs).toContain('examples/mario-pizzeria/src/api/routes.ts');
  });
});
