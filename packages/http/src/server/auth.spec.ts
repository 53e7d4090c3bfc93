// Tokens from an identity provider that publishes its keys (JWKS), served here by a local HTTP server.
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, bearerAuthenticator } from './auth.ts';

const issuer = 'https://id.test';
const audience = 'api';
let server: Server;
let jwksUrl: string;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let publicJwk: Record<string, unknown>;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function token(claims: Record<string, unknown> = {}) {
  return new SignJWT({ roles: ['chef'], ...claims })
    .setSubject('luigi')
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('5m');
}

describe('bearer tokens verified with a JWKS', () => {
  it('accepts a token signed with a published key, and gives its subject and roles', async () => {
    const authenticate = bearerAuthenticator({ issuer, audience, jwksUrl });
    const jwt = await token().setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey);
    expect(await authenticate(`Bearer ${jwt}`)).toMatchObject({ subject: 'luigi', roles: ['chef'] });
    expect(await authenticate(undefined)).toBeUndefined();
  });

  it('refuses key confusion (HS256 signed with the public key), alg none, and a token without a subject', async () => {
    const authenticate = bearerAuthenticator({ issuer, audience, jwksUrl });
    const publicAsSecret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const confused = await token().setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(publicAsSecret);
    await expect(authenticate(`Bearer ${confused}`)).rejects.toThrow(AuthenticationError);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const none = `${encode({ alg: 'none' })}.${encode({ sub: 'x', iss: issuer, aud: audience, roles: ['chef'] })}.`;
    await expect(authenticate(`Bearer ${none}`)).rejects.toThrow(AuthenticationError);
    const anonymous = await new SignJWT({ roles: ['chef'] })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(privateKey);
    await expect(authenticate(`Bearer ${anonymous}`)).rejects.toThrow('The token names no subject (sub)');
  });

  it('refuses a well-signed subject too long for OpenID Connect, or holding a NUL, a control or half a character', async () => {
    const authenticate = bearerAuthenticator({ issuer, audience, jwksUrl });
    const signed = (subject: string) =>
      new SignJWT({ roles: ['customer'] })
        .setSubject(subject)
        .setIssuer(issuer)
        .setAudience(audience)
        .setExpirationTime('5m')
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .sign(privateKey);
    const longest = 'é'.repeat(255);
    expect(await authenticate(`Bearer ${await signed(longest)}`)).toMatchObject({ subject: longest });
    await expect(authenticate(`Bearer ${await signed('a'.repeat(256))}`)).rejects.toThrow(
      "The token's subject (sub) is longer than 255 characters",
    );
    for (const subject of ['luigi\u0000', 'lu\u001bigi', 'luigi\ud800', 'luigi\u0085']) {
      await expect(authenticate(`Bearer ${await signed(subject)}`), JSON.stringify(subject)).rejects.toThrow(
        "The token's subject (sub) holds control characters or malformed text",
      );
    }
  });

  it('refuses a token that never expires, however well signed', async () => {
    const authenticate = bearerAuthenticator({ issuer, audience, jwksUrl });
    const forever = await new SignJWT({ roles: ['manager'] })
      .setSubject('luigi')
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(privateKey);
    await expect(authenticate(`Bearer ${forever}`)).rejects.toThrow(
      'The token has no exp claim; tokens must expire',
    );
  });

  it('reads roles given as one space-separated string, and refuses a misconfiguration at once', async () => {
    const authenticate = bearerAuthenticator({ issuer, audience, jwksUrl, rolesClaim: 'scope' });
    const jwt = await token({ scope: 'chef manager' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(privateKey);
    expect((await authenticate(`Bearer ${jwt}`))?.roles).toEqual(['chef', 'manager']);
    expect(() => bearerAuthenticator({ issuer, audience })).toThrow(
      /either a shared `secret` or a `jwksUrl`/,
    );
    expect(() => bearerAuthenticator({ issuer, audience, secret: 'short' })).toThrow(
      /at least 32 characters/,
    );
  });

  it('refuses a secret that is long but not random, and keys fetched over plain HTTP from another machine', () => {
    for (const secret of ['x'.repeat(32), 'abcabcabcabcabcabcabcabcabcabcab']) {
      expect(() => bearerAuthenticator({ issuer, audience, secret })).toThrow(/must be random/);
    }
    expect(() =>
      bearerAuthenticator({ issuer, audience, secret: 'Zr3Pq9sVw1Xy8Tb6Nc4Md2Lf0Kg7Jh5A' }),
    ).not.toThrow();
    for (const url of [
      'http://issuer.example/jwks.json',
      'http://10.0.0.5/jwks.json',
      'ftp://issuer.example/k',
    ]) {
      expect(() => bearerAuthenticator({ issuer, audience, jwksUrl: url })).toThrow(/jwksUrl must be https:/);
    }
    expect(() => bearerAuthenticator({ issuer, audience, jwksUrl: 'not a url' })).toThrow(/is not a URL/);
    for (const url of [
      'https://issuer.example/jwks.json',
      'http://127.0.0.1:8080/jwks.json',
      'http://localhost/jwks.json',
      'http://[::1]:9000/jwks.json',
    ]) {
      expect(() => bearerAuthenticator({ issuer, audience, jwksUrl: url })).not.toThrow();
    }
  });
});
