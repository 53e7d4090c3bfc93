// Test support (not published): a process that opens an embedded database in a directory and keeps it open until
// killed, saying so on stdout.
import { pgliteDatabase } from '../database/pgliteDatabase.ts';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: holdDirectory.ts <dataDir>');
await pgliteDatabase({ dataDir });
process.stdout.write(`holding ${process.pid}\n`);
setInterval(() => {}, 60_000);
