// The key that wraps every subject's data key. It never sits beside the data: the application hands it in (from an
// environment variable, a secret store, or a cloud KMS behind this port), so a copy of the database alone, a backup
// say, opens nothing.

/**
 * Wraps and unwraps data keys. A cloud KMS plugs in here: `wrap` and `unwrap` are its encrypt and decrypt calls
 * (Myelin caches unwrapped keys, so it is called once per key per process, not per event).
 */
export interface MasterKey {
  /** Names this master key; stored beside each data key it wraps, so that keys can be rotated one day. */
  readonly id: string;
  wrap(dataKey: Uint8Array): Promise<Uint8Array>;
  unwrap(wrapped: Uint8Array): Promise<Uint8Array>;
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
