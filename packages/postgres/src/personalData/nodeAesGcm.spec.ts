// node:crypto's AES-256-GCM (what @myelin/postgres seals with) and WebCrypto's (core's default, which a service
// without @myelin/postgres reads with, say a NATS consumer) must be the same cipher byte for byte: each opens what
// the other sealed, and refuses it under another key or additional data.
import { randomBytes } from 'node:crypto';
import { type AesGcm, webCryptoAesGcm } from '@myelin/core';
import { describe, expect, it } from 'vitest';
import { nodeAesGcm } from './nodeAesGcm.ts';

const ciphers: [string, AesGcm][] = [
  ['node:crypto', nodeAesGcm as AesGcm],
  ['WebCrypto', webCryptoAesGcm as AesGcm],
];

describe.each(ciphers)('what %s seals', (_, sealer) => {
  it.each(ciphers)('%s opens, and only with the same key and additional data', async (__, opener) => {
    const raw = randomBytes(32);
    const text = JSON.stringify(['Zoë Müller', '+49 310 000 001', '1 Hauptstraße, 10115 Berlin', '🍕']);
    const sealed = await sealer.seal(await sealer.importKey(raw), text, 'order.placed.v1\nk-1\nname');
    // base64 of a 12-byte IV, the ciphertext (as long as the UTF-8 text) and a 16-byte tag.
    expect(Buffer.from(sealed, 'base64').length).toBe(12 + Buffer.byteLength(text) + 16);
    const key = await opener.importKey(raw);
    expect(await opener.open(key, sealed, 'order.placed.v1\nk-1\nname')).toBe(text);
    await expect(async () => opener.open(key, sealed, 'order.placed.v1\nk-2\nname')).rejects.toThrow();
    const otherKey = await opener.importKey(randomBytes(32));
    await expect(async () => opener.open(otherKey, sealed, 'order.placed.v1\nk-1\nname')).rejects.toThrow();
  });
});
