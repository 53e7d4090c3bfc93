import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file in an embedded database's directory that names the process using it. */
export const lockFileName = 'myelin.lock';

/** Another live process uses the directory: a second PGlite on the same files would lose writes. */
export class DirectoryLockedError extends Error {
  readonly directory: string;
  readonly pid: number;
  constructor(directory: string, pid: number) {
    super(
      `The embedded database in ${directory} is in use by process ${pid}; stop it first, or give this process ` +
        `another data directory (if no process ${pid} uses it, delete ${join(directory, lockFileName)})`,
    );
    this.name = 'DirectoryLockedError';
    this.directory = directory;
    this.pid = pid;
  }
}

/**
 * Takes the directory for this process, exclusively: PGlite has no lock of its own, and two processes writing one
 * cluster each keep half the commits. The lock is a file created only if absent (O_EXCL) holding the process id;
 * one left by a process that died without closing (kill -9) names a process no longer alive and is taken over.
 * @returns a function that releases the lock.
 */
export function lockDirectory(directory: string): () => void {
  makePrivate(directory);
  const file = join(directory, lockFileName);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (holder(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = holder(file);
    if (pid !== undefined && alive(pid)) throw new DirectoryLockedError(directory, pid);
    // Left by a process that is gone (or half written by one that died writing it): take it over. Two processes
    // doing so at once both try the exclusive create again, and one of them loses.
    if (attempt >= 3) throw new DirectoryLockedError(directory, pid ?? 0);
    rmSync(file, { force: true });
  }
}

/**
 * Makes the directory its owner's, as PostgreSQL requires of a cluster's (0700, or 0750 for a group the operator
 * chose): PGlite writes its files readable and writable by everyone, and they hold the log, the read models in
 * clear and the wrapped data keys; closed at the top, the files below are out of other users' reach whatever their
 * modes. A directory this process made is 0700. A given one is closed as {@link privateModeOf} says. One open to
 * others that this process cannot close (another user's) is refused rather than used: personal data served from a
 * directory everyone can read would be a leak nobody sees, so this fails closed. Another user's directory shut to
 * others but writable by its group is left as it is: that is how an operator shares a directory with the group
 * this process runs in (it writes there through the group), and nobody outside the group can reach it.
 * @param self this process's user id (a test's stand-in for another user).
 */
export function makePrivate(directory: string, self = process.getuid?.()): void {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const { mode, uid } = statSync(directory);
  const wanted = privateModeOf(mode);
  if (wanted === undefined) return;
  // Only the owner (or root) may change a mode; without uids (Windows) modes mean little and chmod does its best.
  if (self !== undefined && self !== 0 && self !== uid) {
    if ((mode & 0o007) === 0) return;
    throw new Error(
      `The data directory ${directory} is open to other users (mode ${octal(mode)}) and belongs to user ${uid}, ` +
        `not to this process's (${self}), so it cannot be closed from here: ` +
        `run \`chmod ${octal(wanted)} ${directory}\` as its owner, or give this process a directory of its own`,
    );
  }
  chmodSync(directory, wanted);
}

/**
 * The mode a given data directory is closed to, or undefined when it is closed enough.
 *
 * Open to others in any way (0755, 0777, even 0701): 0700, its group's access dropped too. A directory everyone
 * could enter was not kept for a group; its group is whatever the parent or the user's default gave (on macOS
 * `staff`, which holds every user), so keeping the group's read would keep the data readable by everyone else.
 *
 * Shut to others: the group's access is kept, since no default umask (022, 002, 077) makes such a mode: 0750 or
 * 0770 is an operator's choice of a group (a 027 umask, or a chmod), and PostgreSQL allows 0750 for the same
 * reason. Only the group's write goes (0770 to 0750), as PostgreSQL would have it; the setgid bit stays, so files
 * made inside stay the group's, while setuid and sticky bits, meaningless here, go.
 */
export function privateModeOf(mode: number): number | undefined {
  const permissions = mode & 0o7777;
  if ((permissions & 0o007) !== 0) return 0o700;
  if ((permissions & 0o5020) !== 0) return permissions & 0o2750;
  return undefined;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

function holder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true; // this process already has it open: a second handle would be as unsafe
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}
