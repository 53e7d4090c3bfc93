import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bundleUi } from './bundle.ts';

/** Where the UI's static files live (the page, the stylesheet, images); its code is bundled from app/. */
const publicDir = fileURLToPath(new URL('./public/', import.meta.url));

/** The types we serve; a file of any other kind is not part of the UI, and is a 404. */
const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
};

/**
 * The page's own policy, stricter than the API's default: scripts only from this origin (ES modules, no inline
 * code or handlers), styles only from the stylesheet (the scripts style through the CSSOM, which CSP allows),
 * and requests (fetch, EventSource) only to this origin.
 */
const pagePolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "base-uri 'self'",
].join('; ');

/**
 * Serves the web UI: `index.html` at `/`, the code and styles bundled from app/ at `/ui/app.js` and `/ui/app.css`
 * (made once, as the server starts), the other files of `public/` under `/ui/`. Static files are read on each request (they are small, and
 * an edit shows at the next reload), each with an `ETag` so that a browser revalidates cheaply (`no-cache` means
 * "ask before using"). Paths that leave `public/`, hidden files and unknown types are 404s.
 */
export async function registerUi(fastify: FastifyInstance): Promise<void> {
  const app = await bundleUi();
  fastify.get('/', async (request, reply) => serve(request, reply, 'index.html'));
  fastify.get('/ui/app.js', async (request, reply) =>
    send(request, reply, app.script.body, contentTypes['.js'] as string, app.script.etag),
  );
  fastify.get('/ui/app.css', async (request, reply) =>
    send(request, reply, app.styles.body, contentTypes['.css'] as string, app.styles.etag),
  );
  fastify.get('/ui/*', async (request, reply) => {
    const wildcard = (request.params as { '*'?: string })['*'] ?? '';
    return serve(request, reply, wildcard);
  });
}

async function serve(request: FastifyRequest, reply: FastifyReply, relative: string): Promise<FastifyReply> {
  const file = resolveFile(relative);
  const type = file === undefined ? undefined : contentTypes[extname(file).toLowerCase()];
  if (file === undefined || type === undefined) return notFound(reply);
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return notFound(reply);
    throw error;
  }
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return send(request, reply, body, type, etag);
}

function send(
  request: FastifyRequest,
  reply: FastifyReply,
  body: Buffer,
  type: string,
  etag: string,
): FastifyReply {
  reply
    .header('content-type', type)
    .header('cache-control', 'no-cache')
    .header('etag', etag)
    .header('x-content-type-options', 'nosniff');
  if (type.startsWith('text/html')) reply.header('content-security-policy', pagePolicy);
  const noneMatch = request.headers['if-none-match'];
  if (typeof noneMatch === 'string' && noneMatch.split(',').some((tag) => tag.trim() === etag)) {
    return reply.code(304).send();
  }
  return reply.code(200).send(body);
}

/** Answers as for any unknown path (the API's problem+json 404, when the server has its not-found handler). */
function notFound(reply: FastifyReply): FastifyReply {
  reply.callNotFound();
  return reply;
}

/**
 * The absolute path of a file under `public/`, or undefined when the request names anything else. `relative` is
 * the path as Fastify decoded it (once: decoding it again would turn `%252e%252e` into `..`).
 */
export function resolveFile(relative: string): string | undefined {
  if (relative === '' || relative.includes('\0') || relative.includes('\\')) return undefined;
  const segments = relative.split('/');
  // No parent directories, no hidden files ("." and ".." included), no empty segments ("a//b", a trailing "/").
  if (segments.some((segment) => segment === '' || segment.startsWith('.'))) return undefined;
  const file = resolve(publicDir, ...segments);
  return file.startsWith(publicDir.endsWith(sep) ? publicDir : publicDir + sep) ? file : undefined;
}
