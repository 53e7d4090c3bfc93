// The key that wraps every subject's data key. It never sits beside the data: the application hands it in (from an
// environment variable, a secret store, or a cloud KMS behind this port), so a copy of the database alone, a backup
// say, opens nothing.

/**
 * Wraps and unwraps data keys. A cloud KMS plugs in here: `wrap` and `unwrap` are its encrypt and decrypt calls
 * (Myelin caches unwrapped keys, so it is called once per key per process, not per event).
 */
export interface MasterKey {
  /**
   * Names this master key; stored beside each data key it wraps, so that after a rotation each data key is
   * unwrapped by the master key that wrapped it. Distinct among an application's master keys.
   */
  readonly id: string;
  wrap(dataKey: Uint8Array): Promise<Uint8Array>;
  unwrap(wrapped: Uint8Array): Promise<Uint8Array>;
}

/**
 * The master keys of an application: the current one, which wraps every new data key, and those it replaced, which
 * only unwrap the data keys they wrapped until these are rewrapped under the current one (see `rewrapDataKeys` of
 * `@myelin/postgres`, or `InMemoryDataKeys#rewrap`). The sealed events themselves never change: rotating the master
 * key rewraps one small row per subject.
 * @example personalData: { masterKey: localMasterKey(newKey, 'k2'), previousMasterKeys: [localMasterKey(oldKey, 'k1')] }
 */
export interface MasterKeyOptions {
  readonly masterKey: MasterKey;
  /** Master keys that wrapped data keys before `masterKey`; their ids and the current one's must differ. */
  readonly previousMasterKeys?: readonly MasterKey[];
}

/** What a rewrap did: how many data keys it rewrapped, and what it left wrapped by another master key. */
export interface RewrapReport {
  /** Data keys this run rewrapped under the current master key. */
  readonly rewrapped: number;
  /**
   * Data keys still wrapped by a previous master key when the run ended: held meanwhile by another run or an
   * erasure, or made since by a process still configured with the old key as its current one. Run again.
   */
  readonly left: number;
  /** Data keys wrapped by a master key not configured, which the run did not touch: give it as a previous one. */
  readonly unknown: number;
  /** The ids of those master keys. */
  readonly unknownMasterKeys: readonly string[];
}

/**
 * @internal The master keys by id: the current one wraps, and each unwraps the data keys that record its id. A data
 * key keeps the id of the master key that wrapped it, so two keys of one id could not be told apart.
 */
export class MasterKeyRing {
  readonly current: MasterKey;
  readonly #byId = new Map<string, MasterKey>();

  constructor(current: MasterKey, previous: readonly MasterKey[] = []) {
    this.current = current;
    for (const key of [current, ...previous]) {
      if (this.#byId.has(key.id)) {
        throw new TypeError(
          `Two master keys are named '${key.id}': each needs an id of its own, which the data keys it wraps record (localMasterKey(secret, 'k2'))`,
        );
      }
      this.#byId.set(key.id, key);
    }
  }

  /** The ids of the previous master keys: what a rewrap looks for. */
  get previousIds(): string[] {
    return [...this.#byId.keys()].filter((id) => id !== this.current.id);
  }

  /** A data key in clear, unwrapped by the master key whose id it records. */
  async unwrap(dataKey: WrappedDataKey): Promise<Uint8Array> {
    const masterKey = this.#byId.get(dataKey.masterKey);
    if (masterKey === undefined) {
      const configured = [...this.#byId.keys()].map((id) =>
        id === this.current.id ? `'${id}' (current)` : `'${id}'`,
      );
      throw new Error(
        `Data key ${dataKey.id} is wrapped by master key '${dataKey.masterKey}', which is not among those configured (${configured.join(', ')}): give it in previousMasterKeys until its data keys are rewrapped`,
      );
    }
    return masterKey.unwrap(dataKey.wrapped);
  }

  /** A data key wrapped by a previous master key, wrapped by the current one instead. */
  async rewrap(dataKey: WrappedDataKey): Promise<Uint8Array> {
    return this.current.wrap(await this.unwrap(dataKey));
  }

  /** The report of a run that rewrapped `rewrapped` keys, from the count of the data keys by master key then. */
  report(rewrapped: number, byMasterKey: ReadonlyMap<string, number>): RewrapReport {
    let left = 0;
    let unknown = 0;
    const unknownMasterKeys: string[] = [];
    for (const [id, keys] of byMasterKey) {
      if (id === this.current.id) continue;
      if (this.#byId.has(id)) {
        left += keys;
      } else {
        unknown += keys;
        unknownMasterKeys.push(id);
      }
    }
    return { rewrapped, left, unknown, unknownMasterKeys: unknownMasterKeys.sort() };
  }
}

/** A data key as a master key wrapped it, and the id of that master key. */
interface WrappedDataKey {
  readonly id: string;
  readonly wrapped: Uint8Array;
  readonly masterKey: string;
}

/** The length, in bytes, of a master key and of a data key: AES-256. */
export const keyBytes = 32;
const ivBytes = 12;

/**
 * A master key held by the process: 32 random bytes, given as bytes or in base64 (`openssl rand -base64 32`).
 * Data keys are wrapped with AES-256-GCM under it.
 * @example personalData: { masterKey: localMasterKey(process.env.MYELIN_MASTER_KEY) }
 */
export function localMasterKey(secret: Uint8Array | string | undefined, id = 'local'): MasterKey {
  if (secret === undefined || secret === '') {
    throw new TypeError('A master key is required: 32 random bytes, in base64 (openssl rand -base64 32)');
  }
  const bytes = typeof secret === 'string' ? fromBase64(secret.trim()) : secret;
  if (bytes.length !== keyBytes) {
    throw new TypeError(`A master key is ${keyBytes} bytes (44 characters of base64), not ${bytes.length}`);
  }
  // 32 random bytes hold about 30 distinct values; fewer than 16 is a key typed or zeroed, not made (the chance of
  // it by luck is 3.2 in 10^17). It is refused before it protects anything.
  const distinct = new Set(bytes).size;
  if (distinct < 16) {
    throw new TypeError(
      `A master key must be random (openssl rand -base64 32): this one has only ${distinct} distinct byte values`,
    );
  }
  const key = crypto.subtle.importKey('raw', new Uint8Array(bytes), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const additionalData = new TextEncoder().encode(`myelin.data-key:${id}`);
  return {
    id,
    async wrap(dataKey) {
      const iv = crypto.getRandomValues(new Uint8Array(ivBytes));
      const sealed = await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData },
        await key,
        new Uint8Array(dataKey),
      );
      return concat(iv, new Uint8Array(sealed));
    },
    async unwrap(given) {
      const wrapped = new Uint8Array(given);
      const iv = wrapped.subarray(0, ivBytes);
      const opened = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv, additionalData },
        await key,
        wrapped.subarray(ivBytes),
      );
      return new Uint8Array(opened);
    },
  };
}

/** A new master key in base64, for `localMasterKey`: what `openssl rand -base64 32` prints. */
export function newMasterKey(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(keyBytes)));
}

/** @internal */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// Base64 with the platform's btoa and atob (in browsers, Node.js, Deno and Bun alike): core names no Node module.
/** @internal */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** @internal */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new TypeError('Not base64');
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
