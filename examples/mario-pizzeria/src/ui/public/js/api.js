// The API client: JSON in and out, the bearer token when signed in, and problem details as errors.
import { clear, current, save } from './session.js';
import { toast } from './toast.js';

/** A failed request, with the server's problem details (RFC 9457). */
export class ProblemError extends Error {
  /** @param {{status: number, title?: string, detail?: string, errors?: {field: string, detail: string}[]}} problem */
  constructor(problem) {
    super(problem.detail ?? problem.title ?? `The request failed (${problem.status})`);
    this.name = 'ProblemError';
    this.problem = problem;
    this.status = problem.status;
  }
}

/**
 * Calls the API. Resolves with the parsed body (undefined for 204); rejects with a ProblemError.
 * @param {'GET'|'POST'|'PUT'|'DELETE'} method
 * @param {string} path
 * @param {unknown} [body]
 */
export async function request(method, path, body) {
  const headers = { accept: 'application/json' };
  const session = current();
  if (session !== undefined) headers.authorization = `Bearer ${session.accessToken}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ProblemError({
      status: 0,
      detail: "We can't reach the pizzeria right now. Check your connection and try again.",
    });
  }
  if (response.status === 204) return undefined;
  const type = response.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await response.json().catch(() => undefined) : undefined;
  if (response.ok) return data;
  const problem = data ?? { status: response.status, title: response.statusText };
  if (response.status === 401 && session !== undefined) {
    clear();
    toast('Please sign in again.', { kind: 'info', title: 'Your session has ended' });
  }
  throw new ProblemError({ status: response.status, ...problem });
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body ?? {});
export const put = (path, body) => request('PUT', path, body);
export const del = (path) => request('DELETE', path);

/** Signs in with a development user; the session lasts as long as the token (and this tab). */
export async function signIn(username, password) {
  const result = await request('POST', '/api/auth/token', { username, password });
  save({
    username,
    roles: result.roles ?? [],
    accessToken: result.accessToken,
    // A little early, so that a request never leaves with a token about to expire.
    expiresAt: Date.now() + (result.expiresIn - 30) * 1000,
  });
  return current();
}
