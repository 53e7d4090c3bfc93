import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A folder or a name that cannot be used; said as it is, with exit code 2. */
export class ScaffoldError extends Error {}

export interface ScaffoldOptions {
  /** The Myelin version the service depends on (`^version`); this package's own by default. */
  readonly myelinVersion?: string;
}

/** The template beside this file's package (in `template/`, shipped with it). */
const templateDir = fileURLToPath(new URL('../template/', import.meta.url));

/** npm drops `.gitignore` from a package, so the template keeps it as `_gitignore`. */
const renames: Readonly<Record<string, string>> = { _gitignore: '.gitignore' };

/**
 * Writes a new service into `folder` (which must not exist, or be empty), named after the folder. Returns the
 * files written, relative to it.
 */
export function scaffold(folder: string, options: ScaffoldOptions = {}): string[] {
  const target = resolve(folder);
  const name = basename(target);
  if (!/^[a-z0-9][a-z0-9._-]{0,213}$/.test(name)) {
    throw new ScaffoldError(
      `'${name}' cannot name an npm package: use lower-case letters, digits, '-', '.' and '_'`,
    );
  }
  if (existsSync(target) && (!statSync(target).isDirectory() || readdirSync(target).length > 0)) {
    throw new ScaffoldError(`${target} exists and is not an empty folder; choose a new one`);
  }
  const values: Record<string, string> = { name, myelinVersion: options.myelinVersion ?? ownVersion() };
  const written: string[] = [];
  for (const source of files(templateDir)) {
    const path = relative(templateDir, source);
    const destination = join(target, dirname(path), renames[basename(path)] ?? basename(path));
    mkdirSync(dirname(destination), { recursive: true });
    const text = readFileSync(source, 'utf8').replaceAll(
      /\{\{(\w+)\}\}/g,
      (whole, key: string) => values[key] ?? whole,
    );
    writeFileSync(destination, text);
    written.push(relative(target, destination));
  }
  return written.sort();
}

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

function ownVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}
