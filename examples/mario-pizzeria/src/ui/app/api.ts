// The API, typed from the server's own route declarations: each call's input is its message's payload and its
// answer the message's result schema. A failure becomes a ProblemError carrying the server's problem details.
import type { ProblemDetails } from '@myelin/core';
import { type ClientResult, createClient } from '@myelin/http/client';
import { api } from '../../api/routes.ts';
import { clear, current, type Session, save } from './session.ts';
import { toast } from './toast.ts';

/** A failed request, with the server's problem details (RFC 9457). */
export class ProblemError extends Error {
  readonly problem: Partial<ProblemDetails> & { readonly status: number };
  readonly status: number;

  constructor(problem: Partial<ProblemDetails> & { readonly status: number }) {
    super(problem.detail ?? problem.title ?? `The request failed (${problem.status})`);
    this.name = 'ProblemError';
    this.problem = problem;
    this.status = problem.status;
  }
}

/** Every route of the API, called with the signed-in user's token (if any). */
export const client = createClient(api, {
  baseUrl: globalThis.location?.origin ?? '',
  token: () => current()?.accessToken,
});

const unreachable = "We can't reach the pizzeria right now. Check your connection and try again.";

/**
 * Waits for a call and answers its data, or throws a ProblemError. A 401 while signed in means the session ended
 * (an expired or revoked token): it is forgotten, and the user told.
 */
export async function call<TData>(pending: Promise<ClientResult<TData>>): Promise<TData> {
  let result: ClientResult<TData>;
  try {
    result = await pending;
  } catch {
    throw new ProblemError({ status: 0, detail: unreachable });
  }
  if (result.ok) return result.data;
  if (result.status === 401 && current() !== undefined) {
    clear();
    toast('Please sign in again.', { kind: 'info', title: 'Your session has ended' });
  }
  throw new ProblemError(result.problem);
}

interface IssuedToken {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly roles?: readonly string[];
}

/** Signs in with a development user; the session lasts as long as the token (and this tab). */
export async function signIn(username: string, password: string): Promise<Session | undefined> {
  let response: Response;
  try {
    response = await fetch('/api/auth/token', {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  } catch {
    throw new ProblemError({ status: 0, detail: unreachable });
  }
  const body = (await response.json().catch(() => undefined)) as unknown;
  if (!response.ok) {
    const problem = (body ?? {}) as Partial<ProblemDetails>;
    throw new ProblemError({ title: response.statusText, ...problem, status: response.status });
  }
  const issued = body as IssuedToken;
  save({
    username,
    roles: issued.roles ?? [],
    accessToken: issued.accessToken,
    // A little early, so that a request never leaves with a token about to expire.
    expiresAt: Date.now() + (issued.expiresIn - 30) * 1000,
  });
  return current();
}
