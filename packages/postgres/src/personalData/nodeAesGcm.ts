// AES-256-GCM with node:crypto, for the personal data cipher: on the calling thread, with IVs cut from a pooled
// random buffer. Sealed bytes are the same as WebCrypto's (iv, ciphertext, tag), so either opens the other's.
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type KeyObject,
  randomFillSync,
} from 'node:crypto';
import type { AesGcm } from '@myelin/core';

const ivBytes = 12;
const tagBytes = 16;
// One call to the random source per 341 IVs: a fresh 12 bytes each cost 4 µs, a slice of the pool 0.04.
const pool = Buffer.alloc(ivBytes * 341);
let next = pool.length;

function freshIv(): Buffer {
  if (next + ivBytes > pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const iv = Buffer.from(pool.subarray(next, next + ivBytes)); // a copy: the pool is refilled later
  next += ivBytes;
  return iv;
}

/** AES-256-GCM through node:crypto. */
export const nodeAesGcm: AesGcm<KeyObject> = {
  importKey: (raw) => createSecretKey(Buffer.from(raw)),
  seal(key, plaintext, aad) {
    const iv = freshIv();
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = cipher.update(plaintext, 'utf8');
    cipher.final(); // GCM gives nothing more at the end: only the tag
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  },
  open(key, sealed, aad) {
    const bytes = Buffer.from(sealed, 'base64');
    if (bytes.length < ivBytes + tagBytes) throw new Error('Sealed data too short');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, ivBytes));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - tagBytes));
    return Buffer.concat([
      decipher.update(bytes.subarray(ivBytes, bytes.length - tagBytes)),
      decipher.final(),
    ]).toString('utf8');
  },
};
