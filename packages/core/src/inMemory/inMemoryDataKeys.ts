// The data keys of an in-memory database (see personalDataCipher.ts): what the `personal_keys` table is to
// PostgreSQL. A key is made outside any commit (one nobody used yet harms nothing) and deleted by the commit that
// forgets its subject.
import {
  localMasterKey,
  type MasterKey,
  type MasterKeyOptions,
  MasterKeyRing,
  newMasterKey,
  type RewrapReport,
} from '../personalData/masterKey.ts';
import type { DataKeyStore, StoredDataKey } from '../personalData/personalDataCipher.ts';

/** Subjects' data keys in memory, one per subject, each wrapped by a master key. */
export class InMemoryDataKeys implements DataKeyStore {
  readonly #bySubject = new Map<string, StoredDataKey>();
  readonly #byId = new Map<string, StoredDataKey>();
  #masterKey: MasterKey | undefined;

  /**
   * The master key of the applications on this database that configure none: random, made once. Memory is never
   * persisted, so no key needs to outlive the process; the applications sharing the database share it.
   */
  get defaultMasterKey(): MasterKey {
    this.#masterKey ??= localMasterKey(newMasterKey());
    return this.#masterKey;
  }

  async bySubject(subjects: readonly string[]): Promise<ReadonlyMap<string, StoredDataKey>> {
    return pick(this.#bySubject, subjects);
  }

  async create(keys: readonly StoredDataKey[]): Promise<ReadonlyMap<string, StoredDataKey>> {
    for (const key of keys) {
      if (this.#bySubject.has(key.subject)) continue;
      const stored = { ...key, wrapped: new Uint8Array(key.wrapped) };
      this.#bySubject.set(key.subject, stored);
      this.#byId.set(key.id, stored);
    }
    return pick(
      this.#bySubject,
      keys.map((key) => key.subject),
    );
  }

  async byId(ids: readonly string[]): Promise<ReadonlyMap<string, StoredDataKey>> {
    return pick(this.#byId, ids);
  }

  /** The ids of these keys that exist, at once (in a commit's turn, nothing deletes one meanwhile). */
  existing(ids: readonly string[]): string[] {
    return ids.filter((id) => this.#byId.has(id));
  }

  /** The ids of a subject's keys. */
  idsOf(subject: string): string[] {
    const key = this.#bySubject.get(subject);
    return key === undefined ? [] : [key.id];
  }

  /**
   * Rewraps every data key wrapped by one of `previousMasterKeys` under `masterKey`, and reports what it left under
   * a master key not given (untouched). What `rewrapDataKeys` of `@myelin/postgres` does, for the applications
   * sharing this database (memory is never persisted, so there is no backup to think of). A key deleted while it
   * was being rewrapped (its subject forgotten) stays deleted, and of runs at the same time one replaces each key.
   * @example await database.dataKeys.rewrap({ masterKey: newKey, previousMasterKeys: [oldKey] })
   */
  async rewrap(options: MasterKeyOptions): Promise<RewrapReport> {
    const ring = new MasterKeyRing(options.masterKey, options.previousMasterKeys);
    const previous = new Set(ring.previousIds);
    let rewrapped = 0;
    for (const stored of [...this.#byId.values()]) {
      if (!previous.has(stored.masterKey)) continue;
      const wrapped = await ring.rewrap(stored);
      // Replaced only if it is still the key read: not if deleted meanwhile, nor if another run rewrapped it first.
      if (this.#byId.get(stored.id) !== stored) continue;
      const key = { ...stored, wrapped, masterKey: ring.current.id };
      this.#bySubject.set(key.subject, key);
      this.#byId.set(key.id, key);
      rewrapped += 1;
    }
    const byMasterKey = new Map<string, number>();
    for (const key of this.#byId.values())
      byMasterKey.set(key.masterKey, (byMasterKey.get(key.masterKey) ?? 0) + 1);
    return ring.report(rewrapped, byMasterKey);
  }

  /** Deletes a subject's keys: whatever was sealed with them reads as placeholders from then on. */
  delete(subject: string): void {
    const key = this.#bySubject.get(subject);
    if (key === undefined) return;
    this.#bySubject.delete(subject);
    this.#byId.delete(key.id);
  }
}

function pick(
  keys: ReadonlyMap<string, StoredDataKey>,
  wanted: readonly string[],
): Map<string, StoredDataKey> {
  const found = new Map<string, StoredDataKey>();
  for (const name of wanted) {
    const key = keys.get(name);
    if (key !== undefined) found.set(name, key);
  }
  return found;
}
