import type {
  IdempotencyClaim,
  IdempotencyStore,
  StoredIdempotentResponse,
} from '../persistence/idempotencyStore.ts';

interface Entry {
  readonly scope: string;
  readonly fingerprint: string;
  readonly expiresAt: number;
  readonly claimedAt: number;
  response: StoredIdempotentResponse | undefined;
  subjects: readonly string[];
}

/**
 * Idempotency keys in memory: for tests and single-process applications (a restart forgets them). Expired records
 * are dropped as claims arrive, so memory stays bounded by the keys of one retention period.
 */
export class InMemoryIdempotencyStore implements IdempotencyStore {
  // Insertion order is claim order, so with one retention period the oldest expiries come first.
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  /**
   * When each subject was last forgotten, and what counts an answer dropped for it in that erasure's record: an
   * answer completed for them after that is not kept.
   */
  readonly #forgotten = new Map<string, { readonly at: number; readonly dropped: () => void }>();

  /** @param now the clock, in milliseconds (tests move it to expire records). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async claim(scope: string, key: string, fingerprint: string, expiresAt: Date): Promise<IdempotencyClaim> {
    const now = this.#now();
    this.#purge(now);
    const id = idOf(scope, key);
    const entry = this.#entries.get(id);
    if (entry !== undefined && entry.expiresAt > now) {
      return entry.response === undefined
        ? { state: 'pending', fingerprint: entry.fingerprint }
        : { state: 'done', fingerprint: entry.fingerprint, response: entry.response };
    }
    // Deleted first so that a taken-over key moves to the end of the claim order.
    this.#entries.delete(id);
    this.#entries.set(id, {
      scope,
      fingerprint,
      expiresAt: expiresAt.getTime(),
      claimedAt: now,
      response: undefined,
      subjects: [],
    });
    return { state: 'claimed' };
  }

  async complete(
    scope: string,
    key: string,
    response: StoredIdempotentResponse,
    subjects: readonly string[] = [],
  ): Promise<void> {
    const entry = this.#entries.get(idOf(scope, key));
    if (entry === undefined || entry.response !== undefined) return;
    // Not kept when one of its subjects was forgotten since the claim: a repeat runs again instead, and each such
    // erasure counts it among the answers it reached.
    const since = [...new Set(subjects)]
      .map((subject) => this.#forgotten.get(subject))
      .filter((erasure) => erasure !== undefined && erasure.at >= entry.claimedAt);
    if (since.length > 0) {
      this.#entries.delete(idOf(scope, key));
      for (const erasure of since) erasure?.dropped();
      return;
    }
    // A JSON copy: the replay must not change when the caller mutates its objects, and must match a database's.
    entry.response = JSON.parse(JSON.stringify(response)) as StoredIdempotentResponse;
    entry.subjects = [...subjects];
  }

  async release(scope: string, key: string): Promise<void> {
    const id = idOf(scope, key);
    if (this.#entries.get(id)?.response === undefined) this.#entries.delete(id);
  }

  /**
   * Deletes the records of a forgotten subject: those kept with them among their `subjects`, and those whose scope
   * starts with `prefix` (the user's own, `user:<id> `: the answers kept may repeat what they sent); answers how
   * many there were. `dropped` is called for each answer naming the subject that completes later but was claimed
   * before, and so is not kept.
   */
  deleteFor(subject: string, prefix: string | undefined, dropped: () => void = () => {}): number {
    this.#forgotten.set(subject, { at: this.#now(), dropped });
    let deleted = 0;
    for (const [id, entry] of this.#entries) {
      if (!entry.subjects.includes(subject) && !(prefix !== undefined && entry.scope.startsWith(prefix)))
        continue;
      this.#entries.delete(id);
      deleted++;
    }
    return deleted;
  }

  /**
   * Drops expired records from the oldest until one is live; the ones left behind count as absent anyway. Then the
   * erasures older than every claim left: they can no longer stop an answer from being kept.
   */
  #purge(now: number): void {
    let oldest: Entry | undefined;
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now) {
        oldest = entry;
        break;
      }
      this.#entries.delete(id);
    }
    for (const [subject, { at }] of this.#forgotten) {
      if (oldest === undefined || at < oldest.claimedAt) this.#forgotten.delete(subject);
    }
  }
}

/** One string per (scope, key): JSON keeps two pairs from colliding whatever characters they hold. */
function idOf(scope: string, key: string): string {
  return JSON.stringify([scope, key]);
}
