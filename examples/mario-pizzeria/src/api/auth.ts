import { randomBytes } from 'node:crypto';
import type { AuthOptions, DevUser } from '@myelin/http';
import { type KeptKey, keptKey } from '../keptKeys.ts';
import { roles } from '../shared/roles.ts';

/**
 * The development users: each one's password is its name, and its one role too. They exist only in
 * embedded development mode (see config.ts); production mode refuses to start with them.
 */
export const devUsers: readonly DevUser[] = [roles.customer, roles.chef, roles.driver, roles.manager].map(
  (name) => ({ username: name, password: name, roles: [name] }),
);

/** Who the development issuer says it is; its key is never in the repository (see {@link developmentAuth}). */
export const developmentIssuer = {
  issuer: 'mario-pizzeria-development',
  audience: 'mario-pizzeria',
} as const;

/** The file in the data directory that holds the development issuer's key. */
export const developmentKeyFile = 'development-signing-key';

/** The development issuer's key, kept in the data directory (see keptKeys.ts). */
const developmentSigningKey: KeptKey = {
  file: developmentKeyFile,
  what: 'development signing key',
  make: () => randomBytes(32).toString('base64url'),
  problem: (key) => (key.length < 32 ? 'is too short; delete the file' : undefined),
};

/**
 * The development issuer, signing with a key made on the first start and kept in the data directory (readable by
 * its owner alone), so that a restart keeps a browser signed in while nobody else can sign tokens: the key is
 * this machine's, not the repository's.
 */
export function developmentAuth(dataDir: string): AuthOptions {
  return { ...developmentIssuer, secret: keptKey(dataDir, developmentSigningKey) };
}

/** The development issuer with a key made for one test (or one throwaway process) and kept nowhere. */
export function ephemeralDevelopmentAuth(): AuthOptions {
  return { ...developmentIssuer, secret: randomBytes(32).toString('base64url') };
}
