import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryLockedError, makePrivate, privateModeOf } from './directoryLock.ts';
import { pgliteDatabase } from './pgliteDatabase.ts';

const holder = fileURLToPath(new URL('../testing/holdDirectory.ts', import.meta.url));
const children: ChildProcess[] = [];
const directories: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

/** Another process holding the directory open, once it says so. */
async function holdInAnotherProcess(dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=@myelin/source', holder, dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('holding')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before holding`)));
  });
  return child;
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('an embedded database directory', () => {
  it('is its owner’s: 0700 when made here, and closed to others when given open to everyone', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'myelin-private-'));
    directories.push(parent);
    const given = join(parent, 'given');
    const made = join(parent, 'made', 'data');
    await mkdir(given);
    await chmod(given, 0o777);
    for (const dataDir of [given, made]) {
      const database = await pgliteDatabase({ dataDir });
      try {
        await database.query('CREATE TABLE secrets (x text)');
        // PGlite writes its files open to everyone; the directory above them keeps other users out.
        expect((await stat(dataDir)).mode & 0o7777).toBe(0o700);
        expect((await stat(join(dataDir, 'myelin.lock'))).mode & 0o077).toBe(0);
      } finally {
        await database.close();
      }
    }
  });

  it('is closed to 0700 when others could enter it, and to its group’s read when only the group could write', () => {
    const cases: [number, number | undefined][] = [
      [0o40777, 0o700], // as stat gives a directory's mode
      [0o755, 0o700],
      [0o2775, 0o700],
      [0o701, 0o700],
      [0o770, 0o750],
      [0o2770, 0o2750], // shared with a group on purpose: the setgid bit stays, so new files stay the group's
      [0o4770, 0o750],
      [0o4750, 0o750], // setuid and sticky bits go even where the group could not write
      [0o1700, 0o700],
      [0o750, undefined],
      [0o2750, undefined],
      [0o700, undefined],
    ];
    for (const [mode, wanted] of cases) expect(privateModeOf(mode), mode.toString(8)).toBe(wanted);
  });

  it('keeps a group’s setgid directory the group’s, and refuses one it cannot close, naming what to do', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'myelin-private-'));
    directories.push(parent);
    const shared = join(parent, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o2770);
    makePrivate(shared);
    expect((await stat(shared)).mode & 0o7777).toBe(0o2750);

    const open = join(parent, 'open');
    await mkdir(open);
    await chmod(open, 0o755);
    const { uid } = await stat(open);
    const someoneElse = uid + 1000; // this process, as if it ran as another user
    expect(() => makePrivate(open, someoneElse)).toThrow(
      `The data directory ${open} is open to other users (mode 0755) and belongs to user ${uid}, not to this ` +
        `process's (${someoneElse}), so it cannot be closed from here: run \`chmod 0700 ${open}\` as its owner, ` +
        'or give this process a directory of its own',
    );
    expect((await stat(open)).mode & 0o7777).toBe(0o755);
    // Shared by its owner with this process's group, and shut to others: used as it is, through the group.
    await chmod(open, 0o2770);
    expect(() => makePrivate(open, someoneElse)).not.toThrow();
    expect((await stat(open)).mode & 0o7777).toBe(0o2770);
    // One already closed is another user's business: nothing to refuse.
    await chmod(open, 0o700);
    expect(() => makePrivate(open, someoneElse)).not.toThrow();
  });

  it('is closed by root even when another user owns it (a volume mounted open)', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'myelin-private-'));
    directories.push(parent);
    const mounted = join(parent, 'mounted');
    await mkdir(mounted);
    await chmod(mounted, 0o777);
    // Run as root (as in a container) the directory really is another user's (nobody's); run as a user, it is that
    // user's and 0 stands in for root. Either way root closes what it does not own, rather than refusing it.
    if (process.getuid?.() === 0) await chown(mounted, 65534, 65534);
    makePrivate(mounted, 0);
    expect((await stat(mounted)).mode & 0o7777).toBe(0o700);
  });

  it('is one process’s at a time: a second refuses to open it, naming the directory and the holder', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'myelin-lock-'));
    directories.push(dataDir);
    const child = await holdInAnotherProcess(dataDir);
    const refused = pgliteDatabase({ dataDir });
    await expect(refused).rejects.toThrow(DirectoryLockedError);
    await expect(refused).rejects.toThrow(`${dataDir} is in use by process ${child.pid}`);

    // Killed without closing (kill -9): its lock names a process that is gone, and is taken over.
    await killed(child);
    const database = await pgliteDatabase({ dataDir });
    await database.query('SELECT 1');
    // While this process holds it, even this process cannot open it twice.
    await expect(pgliteDatabase({ dataDir })).rejects.toThrow(`in use by process ${process.pid}`);
    await database.close();
    // Closed: free again.
    await (await pgliteDatabase({ dataDir })).close();
  }, 60_000);
});
