import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryLockedError } from './directoryLock.ts';
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
        // PGlite writes its files open to everyone; the directory above them keeps other users out (a given one
        // keeps its group's read, as PostgreSQL allows).
        expect((await stat(dataDir)).mode & 0o777).toBe(dataDir === given ? 0o750 : 0o700);
        expect((await stat(join(dataDir, 'myelin.lock'))).mode & 0o077).toBe(0);
      } finally {
        await database.close();
      }
    }
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
