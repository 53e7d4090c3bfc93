// The crash cycles of @myelin/postgres's test suite, for as long as you like: a process running commands, the
// relay and an async projection is killed with SIGKILL at random moments; after each restart the readers catch up
// and must equal the fold of the whole log. Usage: npm run crash-cycles -- [cycles=200]
// Needs PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); uses a schema of its own.
import { migrate } from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import { crashCycles } from '../packages/postgres/src/testing/ledgerCycles.ts';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const cycles = Number(process.argv[2] ?? 200);
const schema = `crash_cycles_${Date.now()}`;
const database = postgresDatabase({ connectionString: url, schema });
let failed = 0;
try {
  await migrate(database);
  await crashCycles(database, url, cycles, (report) => {
    const ok = report.mismatches.length === 0 && report.held === 0;
    if (!ok) failed++;
    console.log(
      `cycle ${report.cycle}/${cycles}: ${report.deposits} deposits, ${ok ? 'read models equal the log' : `MISMATCH ${JSON.stringify(report)}`}`,
    );
  });
} finally {
  await database.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await database.close();
}
console.log(failed === 0 ? `all ${cycles} cycles consistent` : `${failed} of ${cycles} cycles inconsistent`);
process.exitCode = failed === 0 ? 0 : 1;
