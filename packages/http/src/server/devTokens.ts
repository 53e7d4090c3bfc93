import { SignJWT } from 'jose';
import type { AuthOptions } from './auth.ts';
import type { RateLimit } from './rateLimits.ts';

/** A user the development token issuer knows. */
export interface DevUser {
  readonly username: string;
  readonly password: string;
  readonly roles: readonly string[];
  /** The token's `sub`; defaults to the username. */
  readonly subject?: string;
}

/**
 * A token issuer for development and demos, so roles can be tried without an identity provider: `POST path`
 * `{ username, password }` answers `{ accessToken, tokenType, expiresIn }`, signed with the `auth` secret. Off
 * unless given; never turn it on where real users are.
 */
export interface DevTokenOptions {
  readonly users: readonly DevUser[];
  /** Defaults to `/api/auth/token`. */
  readonly path?: string;
  /** Defaults to one hour. */
  readonly expiresInSeconds?: number;
  /** How often one client may try to sign in; defaults to 10 a minute. */
  readonly rateLimit?: RateLimit;
}

/** Signs a token for `user` as the API's own issuer (HS256 with the shared secret). */
export async function issueToken(
  auth: AuthOptions,
  user: DevUser,
  expiresInSeconds: number,
): Promise<string> {
  if (auth.secret === undefined) {
    throw new TypeError('devTokens: the development issuer signs with `auth.secret`; configure one');
  }
  return new SignJWT({ roles: [...user.roles] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(user.subject ?? user.username)
    .setIssuer(auth.issuer)
    .setAudience(auth.audience)
    .setIssuedAt()
    .setExpirationTime(`${expiresInSeconds}s`)
    .sign(new TextEncoder().encode(auth.secret));
}
