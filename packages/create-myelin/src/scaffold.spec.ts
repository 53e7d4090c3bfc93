import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ScaffoldError, scaffold } from './scaffold.ts';

const run = promisify(execFile);
const bin = new URL('./index.ts', import.meta.url).pathname;
const dirs: string[] = [];
const temp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'create-myelin-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('create-myelin', () => {
  it('writes the service, named after its folder, depending on this version of Myelin', () => {
    const folder = join(temp(), 'my-notes');
    const written = scaffold(folder, { myelinVersion: '1.2.3' });
    expect(written).toEqual(
      [
        '.gitignore',
        'README.md',
        'package.json',
        'src/app.ts',
        'src/main.ts',
        'src/notes/getNote.ts',
        'src/notes/logWrites.ts',
        'src/notes/note.ts',
        'src/notes/noteSummaries.ts',
        'src/notes/writeNote.ts',
        'src/routes.ts',
        'test/notes.spec.ts',
        'tsconfig.json',
        'vitest.config.ts',
      ].sort(),
    );
    const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
    expect(manifest.name).toBe('my-notes');
    expect(manifest.dependencies['@myelin/core']).toBe('^1.2.3');
    expect(readFileSync(join(folder, 'README.md'), 'utf8')).toMatch(/^# my-notes\n/);
    expect(readFileSync(join(folder, 'src/main.ts'), 'utf8')).not.toContain('{{');
  });

  it('refuses a folder that has something in it, or a name npm would refuse, and writes nothing', () => {
    const busy = join(temp(), 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'keep.txt'), 'mine');
    expect(() => scaffold(busy)).toThrow(ScaffoldError);
    expect(() => scaffold(busy)).toThrow('is not an empty folder');
    expect(() => scaffold(join(temp(), 'My Service'))).toThrow("'My Service' cannot name an npm package");
  });

  it('as a command: asks nothing, says what to do next, and explains a missing folder with exit code 2', async () => {
    const cwd = temp();
    const node = [process.execPath, '--conditions=@myelin/source', bin] as const;
    const created = await run(node[0], [...node.slice(1), 'svc'], { cwd });
    expect(created.stdout).toContain('Created 14 files in svc');
    expect(created.stdout).toContain('npm install');
    const missing = await run(node[0], [...node.slice(1)], { cwd }).catch((error) => error);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Give the folder to create');
    const again = await run(node[0], [...node.slice(1), 'svc'], { cwd }).catch((error) => error);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is not an empty folder');
  });
});
