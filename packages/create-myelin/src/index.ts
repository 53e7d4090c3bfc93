#!/usr/bin/env node
// create-myelin: `npm create myelin@latest my-service` writes a working Myelin service into ./my-service. It asks
// nothing: the folder is its one argument, so it runs the same with or without a terminal.
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ScaffoldError, scaffold } from './scaffold.ts';

const usage = `Usage: npm create myelin@latest <folder>

Writes a new Myelin service into <folder> (new, or empty): a command, a query, an event handler, a projection,
an HTTP API with OpenAPI, and tests. Then: cd <folder> && npm install && npm start`;

function main(): number {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}.\n\n${usage}`);
    return 2;
  }
  if (parsed.values.help === true) {
    console.log(usage);
    return 0;
  }
  const [folder, ...rest] = parsed.positionals;
  if (folder === undefined || rest.length > 0) {
    console.error(
      `${folder === undefined ? 'Give the folder to create' : `Unexpected argument '${rest[0]}'`}.\n\n${usage}`,
    );
    return 2;
  }
  try {
    const written = scaffold(folder);
    const where = relative(process.cwd(), folder) || '.';
    console.log(
      `Created ${written.length} files in ${where}. Next:\n\n  cd ${where}\n  npm install\n  npm start    # then open http://127.0.0.1:3000/docs\n  npm test`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof ScaffoldError)) throw error;
    console.error(`${error.message}.`);
    return 2;
  }
}

process.exitCode = main();
