// The browser's code: app/ (TypeScript) bundled by esbuild into one ES module, in memory, when the server starts.
// One file for the page to fetch, typed end to end with the server's own declarations (the routes, the messages,
// their result schemas), and no build step to forget: what runs is always what is in app/.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** A bundled file, ready to serve. */
export interface BundledFile {
  readonly body: Buffer;
  readonly etag: string;
}

/** The page's code and its styles (each view's stylesheet, in the order the code imports them). */
export interface BundledUi {
  readonly script: BundledFile;
  readonly styles: BundledFile;
}

const entry = fileURLToPath(new URL('./app/app.ts', import.meta.url));

/**
 * Bundles the UI. Minified, for browsers of the last few years (ES2022); workspace packages resolve to their
 * TypeScript sources, as they do for the server.
 */
export async function bundleUi(): Promise<BundledUi> {
  const result = await build({
    entryPoints: [entry],
    outdir: 'ui', // names the outputs (ui/app.js, ui/app.css); nothing is written
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['@myelin/source'],
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const file = (extension: string): BundledFile => {
    const output = result.outputFiles.find((candidate) => candidate.path.endsWith(extension));
    if (output === undefined) throw new Error(`esbuild produced no ${extension} for the UI`);
    const body = Buffer.from(output.contents);
    return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
  };
  return { script: file('.js'), styles: file('.css') };
}
