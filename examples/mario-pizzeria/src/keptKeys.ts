// The keys embedded development mode keeps in its data folder: the development issuer's signing key and the
// master key of personal data. Made on the first start, readable by their owner alone, kept across restarts, and
// never in the repository: the key is this machine's. Production mode takes its keys from the environment.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newMasterKey } from '@myelin/core';

export interface KeptKey {
  /** The file's name in the data folder. */
  readonly file: string;
  /** What it is, for an error message. */
  readonly what: string;
  /** A new key, as text. */
  readonly make: () => string;
  /** Why a key read back cannot be used, or undefined when it can. */
  readonly problem: (key: string) => string | undefined;
}

/**
 * The key kept in `dataDir` under `kept.file`, made on the first call. Made atomically: two processes starting at
 * once end with one key.
 */
export function keptKey(dataDir: string, kept: KeptKey): string {
  const file = join(dataDir, kept.file);
  const existing = readKey(file, kept);
  if (existing !== undefined) return existing;
  mkdirSync(dataDir, { recursive: true });
  // Written whole under a name of its own, then linked into place: a reader never sees half a key, and link()
  // fails if another process won the race, whose key is then the one.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, kept.make(), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(draft, { force: true });
  }
  const key = readKey(file, kept);
  if (key === undefined) throw new Error(`The ${kept.what} in ${file} is unreadable`);
  return key;
}

function readKey(file: string, kept: KeptKey): string | undefined {
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const problem = kept.problem(key);
  if (problem !== undefined) throw new Error(`The ${kept.what} in ${file} ${problem}`);
  return key;
}

/**
 * The master key of personal data in embedded development mode: 32 random bytes in base64. It wraps every
 * customer's data key: without it the personal data in the log can no longer be read, so it goes with the
 * database, and is deleted only with it.
 */
export const developmentMasterKey: KeptKey = {
  file: 'personal-data-master-key',
  what: 'master key of personal data',
  make: newMasterKey,
  problem: (key) =>
    Buffer.from(key, 'base64').length === 32
      ? undefined
      : 'is not 32 bytes in base64: restore it from where the data folder was copied (without it the customers’ personal data in the log cannot be read), or delete the whole data folder to start afresh',
};
