import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthOptions, DevUser } from '@myelin/http';
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

/**
 * The development issuer, signing with a key made on the first start and kept in the data directory (readable by
 * its owner alone), so that a restart keeps a browser signed in while nobody else can sign tokens: the key is
 * this machine's, not the repository's. Made atomically: two processes starting at once end with one key.
 */
export function developmentAuth(dataDir: string): AuthOptions {
  const file = join(dataDir, developmentKeyFile);
  const existing = readKey(file);
  if (existing !== undefined) return { ...developmentIssuer, secret: existing };
  mkdirSync(dataDir, { recursive: true });
  // Written whole under a name of its own, then linked into place: a reader never sees half a key, and link()
  // fails if another process won the race, whose key is then the one.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(draft, { force: true });
  }
  const key = readKey(file);
  if (key === undefined) throw new Error(`The development signing key in ${file} is unreadable or too short`);
  return { ...developmentIssuer, secret: key };
}

function readKey(file: string): string | undefined {
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (key.length < 32)
    throw new Error(`The development signing key in ${file} is too short; delete the file`);
  return key;
}

/** The development issuer with a key made for one test (or one throwaway process) and kept nowhere. */
export function ephemeralDevelopmentAuth(): AuthOptions {
  return { ...developmentIssuer, secret: randomBytes(32).toString('base64url') };
}
