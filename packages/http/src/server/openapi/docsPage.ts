// The reference page at /docs: Scalar API Reference when it is installed (an optional peer), served from this
// server under a policy that allows its one inline script by hash; otherwise a light page listing the operations.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { isObject, type Json } from './json.ts';

/** Serves the page for `document` (served at `documentUrl`) at `docsPath`. */
export function registerDocsPage(
  fastify: FastifyInstance,
  docsPath: string,
  title: string,
  documentUrl: string,
  document: Json,
): void {
  const bundle = scalarBundle();
  if (bundle === undefined) {
    // Without the renderer, a plain list of the operations still helps.
    const page = fallbackPage(title, documentUrl, document);
    fastify.get(docsPath, async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
    return;
  }
  const scriptPath = `${docsPath.replace(/\/+$/, '')}/scalar.js`;
  const { page, inline } = scalarPage(title, documentUrl, scriptPath);
  // The API's policy allows no scripts; this page runs the bundle and its one inline script (by hash), and
  // Scalar styles itself inline.
  const policy = [
    "default-src 'self'",
    `script-src 'self' 'sha256-${createHash('sha256').update(inline).digest('base64')}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'self'",
    "object-src 'none'",
    "base-uri 'self'",
  ].join('; ');
  fastify.get(docsPath, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', policy).send(page),
  );
  let script: Promise<Buffer> | undefined;
  fastify.get(scriptPath, async (_request, reply) => {
    // Read once, at the first visit: it is several megabytes that most servers never send.
    script ??= readFile(bundle);
    return reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(await script);
  });
}

/** The standalone browser build of Scalar API Reference, or undefined when it is not installed. */
function scalarBundle(): string | undefined {
  try {
    // The package exports no path to its browser build; it sits beside the main entry's folder.
    const entry = createRequire(import.meta.url).resolve('@scalar/api-reference');
    const file = join(dirname(entry), 'browser', 'standalone.js');
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

function scalarPage(title: string, documentUrl: string, scriptUrl: string): { page: string; inline: string } {
  // No telemetry, web fonts, AI agent, MCP generator, hosted developer tools or request proxy: Scalar's
  // services are unreachable offline, and the page talks to this server only.
  const configuration = {
    url: documentUrl,
    withDefaultFonts: false,
    telemetry: false,
    proxyUrl: '',
    agent: { disabled: true },
    mcp: { disabled: true },
    showDeveloperTools: 'never',
  };
  const inline = `Scalar.createApiReference('#app', ${scriptJson(configuration)});`;
  const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(title)}</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="${escapeHtml(scriptUrl)}"></script>
    <script>${inline}</script>
  </body>
</html>
`;
  return { page, inline };
}

function fallbackPage(title: string, documentUrl: string, document: Json): string {
  const rows: string[] = [];
  for (const [path, item] of Object.entries(isObject(document.paths) ? document.paths : {})) {
    for (const [method, operation] of Object.entries(isObject(item) ? item : {})) {
      const summary = isObject(operation) ? (operation.summary ?? operation.operationId) : undefined;
      rows.push(
        `<tr><td>${method.toUpperCase()}</td><td><code>${escapeHtml(path)}</code></td>` +
          `<td>${escapeHtml(typeof summary === 'string' ? summary : '')}</td></tr>`,
      );
    }
  }
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>${escapeHtml(title)}</title></head>
  <body>
    <h1>${escapeHtml(title)}</h1>
    <p>The OpenAPI document: <a href="${escapeHtml(documentUrl)}">${escapeHtml(documentUrl)}</a></p>
    <table>${rows.join('')}</table>
  </body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replaceAll(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that cannot close the script element it is written into. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replaceAll('<', '\\u003c');
}
