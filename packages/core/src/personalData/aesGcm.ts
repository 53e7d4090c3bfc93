// AES-256-GCM as the personal data cipher uses it, behind a port: WebCrypto by default (every platform has it);
// an adapter on Node.js gives node:crypto's, which runs on the calling thread where WebCrypto queues a job per
// call on a worker thread (about 37 µs of a sealed event's cost against 3 µs, in bench/src/append's protected case).
import { concat, fromBase64, toBase64 } from './masterKey.ts';

/** Seals text under a key, bound to additional data, and opens it. Both sides must give the same bytes. */
export interface AesGcm<TKey = unknown> {
  /** The key object for 32 raw bytes. */
  importKey(raw: Uint8Array): TKey | Promise<TKey>;
  /** `plaintext` sealed under `key` with a fresh random 12-byte IV, bound to `aad`: base64 of iv, ciphertext, tag. */
  seal(key: TKey, plaintext: string, aad: string): string | Promise<string>;
  /** The text `seal` sealed; throws when the bytes, the key or `aad` differ. */
  open(key: TKey, sealed: string, aad: string): string | Promise<string>;
}

/** WebCrypto's key object, named through `crypto.subtle` (with Node's types only, `CryptoKey` is not a type). */
type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

const ivBytes = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** AES-256-GCM through the platform's WebCrypto (`crypto.subtle`). */
export const webCryptoAesGcm: AesGcm<WebCryptoKey> = {
  importKey: (raw) =>
    crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, ['encrypt', 'decrypt']),
  async seal(key, plaintext, aad) {
    const iv = crypto.getRandomValues(new Uint8Array(ivBytes));
    const sealed = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(aad) },
      key,
      encoder.encode(plaintext),
    );
    return toBase64(concat(iv, new Uint8Array(sealed)));
  },
  async open(key, sealed, aad) {
    const bytes = fromBase64(sealed);
    const opened = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, ivBytes), additionalData: encoder.encode(aad) },
      key,
      bytes.subarray(ivBytes),
    );
    return decoder.decode(opened);
  },
};
