// Test support: a process that writes deposits as fast as it can while its relay and projection read them, until it
// is killed. Usage: ledgerProcess.ts <postgres url> <schema>
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { ProjectionDaemon } from '../projections/projectionDaemon.ts';
import { EventRelay } from '../relay/eventRelay.ts';
import { Deposit, ledgerApp } from './ledgerApp.ts';

const [url, schema] = process.argv.slice(2) as [string, string];
const database = postgresDatabase({ connectionString: url, schema });
const app = await ledgerApp(database);
const quick = { pollMs: 50, leaseRetryMs: 50, batchSize: 20, onError: () => {} };
new ProjectionDaemon(app, database, quick).start();
new EventRelay(app, database, quick).start();
process.stdout.write('ready\n');
for (;;) {
  const account = `a${Math.floor(Math.random() * 5)}`;
  await app.mediator.execute(new Deposit({ account, amount: 1 + Math.floor(Math.random() * 9) }));
}
