import {
  type Application,
  IdempotencyStore,
  type ProblemDetails,
  type StoredIdempotentResponse,
} from '@myelin/core';
import { InMemoryIdempotencyStore } from '@myelin/core/memory';
import { problemOf } from './problems.ts';

/** A response as sent, kept to be sent again for a repeat of the same Idempotency-Key. */
export interface StoredResponse extends StoredIdempotentResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON; a problem when status >= 400; absent for no body. */
  readonly body?: unknown;
}

/** A response as a route produced it: with the subjects whose personal data its command wrote, kept beside it. */
export interface ProducedResponse extends StoredResponse {
  readonly subjects?: readonly string[];
}

export interface IdempotencyOptions {
  /** How long a key's response is kept for repeats, in milliseconds; defaults to 24 hours. */
  readonly retentionMs?: number;
}

/** One request carrying an Idempotency-Key. */
export interface IdempotentRequest {
  /** Whose key, and for what (the caller, the method and the path): one caller's keys never meet another's. */
  readonly scope: string;
  readonly key: string;
  /** A digest of the request body, to tell a repeat from another request reusing the key. */
  readonly fingerprint: string;
}

const defaultRetentionMs = 24 * 60 * 60 * 1000;
/** Visible ASCII, as the IETF draft's keys and Stripe's are; the bound keeps a key an index entry. */
const validKey = /^[\x21-\x7e]{1,255}$/;

/**
 * `Idempotency-Key` on commands, as Stripe and the IETF draft have it: the first response to a key is kept (in
 * the application's {@link IdempotencyStore}, PostgreSQL with @myelin/postgres, else memory) and sent again,
 * marked replayed, for a repeat with the same body; the key with another body is a 422, and a repeat while the
 * first still runs a 409. Server errors are not kept: a retry after a 5xx runs again.
 */
export class IdempotencyKeys {
  readonly #store: IdempotencyStore;
  readonly #retentionMs: number;

  constructor(app: Application, options: IdempotencyOptions) {
    const retentionMs = options.retentionMs ?? defaultRetentionMs;
    if (!Number.isFinite(retentionMs) || retentionMs <= 0) {
      throw new TypeError(
        `idempotency.retentionMs must be a positive number of milliseconds, not ${retentionMs}`,
      );
    }
    this.#retentionMs = retentionMs;
    // A singleton resolves from the root once the application is built, as it is when the plugin registers.
    this.#store = app.container.has(IdempotencyStore)
      ? app.container.root.resolve(IdempotencyStore)
      : new InMemoryIdempotencyStore();
  }

  /**
   * Answers a request with an Idempotency-Key: the kept response of an earlier one with the same key, a problem
   * when the key cannot be used (400 malformed, 409 in use, 422 reused), or what `produce` answers, kept for
   * repeats when it is a success. When `produce` throws, the key is released and the error rethrown.
   */
  async run(
    request: IdempotentRequest,
    produce: () => Promise<ProducedResponse>,
  ): Promise<{ readonly response: StoredResponse; readonly replayed: boolean }> {
    const { scope, key, fingerprint } = request;
    if (!validKey.test(key)) {
      return refuse(400, 'Idempotency-Key must be 1 to 255 visible ASCII characters');
    }
    const claim = await this.#store.claim(scope, key, fingerprint, new Date(Date.now() + this.#retentionMs));
    if (claim.state === 'pending') {
      // Retry-After: the first request is usually a command's few milliseconds from done.
      return refuse(409, 'A request with this Idempotency-Key is still being processed', {
        'retry-after': '1',
      });
    }
    if (claim.state === 'done') {
      if (claim.fingerprint !== fingerprint) {
        return refuse(422, 'This Idempotency-Key was used with another request (its body, path or query)');
      }
      return { response: claim.response, replayed: true };
    }
    let produced: ProducedResponse;
    try {
      produced = await produce();
    } catch (error) {
      // The request's own error is the one to report; a store failing too would only leave the key pending until
      // it expires.
      await this.#store.release(scope, key).catch(() => undefined);
      throw error;
    }
    // Only a success is kept: it is what a repeat must not do twice. A failure changed nothing (the unit of work
    // rolled back), so a retry may run again; and a refusal kept for a day would let anyone fill the database
    // with answers to requests that were never let in (a 401 per made-up key). A failure of the server says
    // nothing about the request either. When keeping the response fails, the error propagates (and is logged)
    // rather than being hidden.
    const { subjects = [], ...response } = produced;
    if (response.status >= 400) await this.#store.release(scope, key);
    else await this.#store.complete(scope, key, response, subjects);
    return { response, replayed: false };
  }
}

function refuse(
  status: number,
  detail: string,
  headers: Readonly<Record<string, string>> = {},
): { readonly response: StoredResponse; readonly replayed: false } {
  const problem: ProblemDetails = problemOf(status, detail);
  return { response: { status, headers, body: problem }, replayed: false };
}
