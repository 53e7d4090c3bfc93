import { token } from '../dependencyInjection/token.ts';

/** A response kept for an idempotency key, to be sent again for a repeat of the request. */
export interface StoredIdempotentResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON (kept as JSON, so a replay sends what a JSON round trip gives); absent for no body. */
  readonly body?: unknown;
}

/** What claiming a key found. */
export type IdempotencyClaim =
  /** The key was free (or its record had expired): the caller runs the request, then completes or releases. */
  | { readonly state: 'claimed' }
  /** Another request holds the key and has not finished. */
  | { readonly state: 'pending'; readonly fingerprint: string }
  /** A request with this key finished: its fingerprint (to tell a repeat from a reuse) and its response. */
  | { readonly state: 'done'; readonly fingerprint: string; readonly response: StoredIdempotentResponse };

/**
 * Remembers the requests sent with an idempotency key, so that a repeat gets the first response instead of
 * running again. Keys live in a scope (who sent them, to where): the same key in two scopes is two keys.
 * A record counts as absent once its expiry has passed.
 */
export interface IdempotencyStore {
  /**
   * Takes the key for a request with this fingerprint until `expiresAt`, unless a live record holds it; then
   * reports that record instead. Atomic: of concurrent claims of a free key, exactly one gets 'claimed'.
   */
  claim(scope: string, key: string, fingerprint: string, expiresAt: Date): Promise<IdempotencyClaim>;
  /**
   * Keeps the response of the claimed request, for its repeats, until the claim's expiry. `subjects` are those whose
   * personal data the request's command wrote (its `result.subjects`): the response may repeat it, so forgetting
   * one of them deletes the record, whoever sent the request. And when one of them was forgotten since the claim
   * (an erasure that ran while the request did, even one not yet committed when this is called), the response is
   * not kept: the record is deleted, so a repeat runs the request again rather than replay their data.
   */
  complete(
    scope: string,
    key: string,
    response: StoredIdempotentResponse,
    subjects?: readonly string[],
  ): Promise<void>;
  /** Forgets a claim whose request did not produce a response worth keeping, so a retry runs again. */
  release(scope: string, key: string): Promise<void>;
}

/**
 * How every idempotency scope of a signed-in principal's requests begins: the HTTP layer scopes their keys with it
 * (then the method and URL), and forgetting them (`PersonalData.forget` with `principal`) deletes those records.
 */
export function principalScope(subject: string): string {
  return `user:${subject} `;
}

/** Where idempotency keys are kept; persistence adapters register theirs under this token. */
export const IdempotencyStore = token<IdempotencyStore>('IdempotencyStore');
