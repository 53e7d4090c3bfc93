import type { Principal } from '@myelin/core';
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';

/** JWT bearer authentication: who may sign tokens for this API, and for which audience. */
export interface AuthOptions {
  /** The `iss` every token must carry. */
  readonly issuer: string;
  /** The `aud` every token must include. */
  readonly audience: string;
  /** A shared secret for HS256 tokens (at least 32 characters). Give this or `jwksUrl`. */
  readonly secret?: string;
  /** Where the identity provider publishes its public keys (RS256, ES256, PS256, EdDSA): `https:`, or `http:` on loopback. */
  readonly jwksUrl?: string | URL;
  /** The claim holding the roles: an array of strings, or one string of space-separated roles; defaults to `roles`. */
  readonly rolesClaim?: string;
  /** Leeway for `exp` and `nbf` between clocks; defaults to 5 s. */
  readonly clockToleranceSeconds?: number;
}

/** A token was presented and is not acceptable: 401, whatever the route. */
export class AuthenticationError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'AuthenticationError';
  }
}

/** The algorithms accepted: named, so that a token cannot choose `none` or switch a public key into an HMAC secret. */
const asymmetric = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** The longest subject (sub) accepted: OpenID Connect's limit. */
const maxSubjectLength = 255;

/**
 * The issuer's keys decide who may sign in as anyone: fetched over plain HTTP, they are anyone's on the way to plant.
 * Only `https:` is taken, or `http:` to this machine itself (a local issuer in development or a test).
 */
function checkJwksUrl(given: string | URL): void {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new TypeError(`auth: jwksUrl '${String(given)}' is not a URL`);
  }
  const loopback = ['localhost', '[::1]'].includes(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new TypeError(
      `auth: jwksUrl must be https: (a plain-HTTP answer can be changed on the way, planting signing keys), not ${url.protocol}//${url.host}`,
    );
  }
}

/**
 * Reads the `Authorization` header: no header is an anonymous caller (the message's policy decides whether that
 * is allowed); a bearer token is verified (signature, algorithm, issuer, audience, expiry, which it must have) and becomes the
 * principal; anything else is an {@link AuthenticationError}.
 */
export function bearerAuthenticator(
  options: AuthOptions,
): (authorization: string | undefined) => Promise<Principal | undefined> {
  const hasSecret = options.secret !== undefined;
  if (hasSecret === (options.jwksUrl !== undefined)) {
    throw new TypeError('auth: give either a shared `secret` or a `jwksUrl`, not both and not neither');
  }
  if (options.secret !== undefined && options.secret.length < 32) {
    throw new TypeError('auth: a shared secret must be at least 32 characters');
  }
  // Long is not enough: 32 'x's (or a pattern) would pass a length check and sign tokens anyone can forge.
  if (options.secret !== undefined && new Set(options.secret).size < 8) {
    throw new TypeError(
      'auth: a shared secret must be random (openssl rand -base64 32), not a few characters repeated',
    );
  }
  if (options.jwksUrl !== undefined) checkJwksUrl(options.jwksUrl);
  const key: Uint8Array | JWTVerifyGetKey =
    options.secret !== undefined
      ? new TextEncoder().encode(options.secret)
      : createRemoteJWKSet(new URL(options.jwksUrl as string | URL));
  const algorithms = hasSecret ? ['HS256', 'HS384', 'HS512'] : asymmetric;
  const rolesClaim = options.rolesClaim ?? 'roles';
  const clockTolerance = options.clockToleranceSeconds ?? 5;

  return async (authorization) => {
    if (authorization === undefined || authorization === '') return undefined;
    const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorization);
    if (match === null) throw new AuthenticationError('The Authorization header must be "Bearer <token>"');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1] as string, key as Uint8Array, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms,
        clockTolerance,
        // A token without an expiry would be valid for ever once leaked: refused, whoever signed it.
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      throw new AuthenticationError(describe(error));
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      throw new AuthenticationError('The token names no subject (sub)');
    }
    // The subject becomes ids, keys and log lines: at most OpenID Connect's 255 characters, and nothing a database
    // or a reader cannot take (a NUL, a control character, half of a surrogate pair).
    if (payload.sub.length > maxSubjectLength) {
      throw new AuthenticationError(
        `The token's subject (sub) is longer than ${maxSubjectLength} characters`,
      );
    }
    if (!payload.sub.isWellFormed() || /\p{Cc}/u.test(payload.sub)) {
      throw new AuthenticationError("The token's subject (sub) holds control characters or malformed text");
    }
    return { subject: payload.sub, roles: rolesOf(payload[rolesClaim]), claims: payload };
  };
}

function rolesOf(claim: unknown): readonly string[] {
  if (typeof claim === 'string') return claim.split(' ').filter((role) => role !== '');
  if (Array.isArray(claim)) return claim.filter((role): role is string => typeof role === 'string');
  return [];
}

/** What the caller is told: enough to fix their token, nothing about the keys. */
function describe(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'The token has expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if ((error as { reason?: unknown }).reason === 'missing') {
        return `The token has no ${String((error as { claim?: unknown }).claim)} claim; tokens must expire`;
      }
      return `The token's ${String((error as { claim?: unknown }).claim)} claim is not accepted here`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'The token signature is not valid';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'The token is signed with an algorithm not accepted here';
    default:
      return 'The token is not valid';
  }
}
