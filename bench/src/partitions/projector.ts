// A projector process of the partitions benchmark: runs the workload's projection (at the version given) in a
// ProjectionDaemon once told "go" on stdin, and reports on stdout each change of how many partitions it holds:
// `held <n> <epoch ms>`. Killed by the parent (SIGTERM stops it cleanly; SIGKILL is a crash).
import { createInterface } from 'node:readline';
import { createApplication } from '@myelin/core';
import { ProjectionDaemon, postgresPersistence, postgresProjections } from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import { counting } from './workload.ts';

const [url, schema, version] = process.argv.slice(2) as [string, string, string];
const database = postgresDatabase({ connectionString: url, schema, max: 6 });
const app = await createApplication()
  .include(postgresPersistence(database), postgresProjections([counting(Number(version))]))
  .build();
const daemon = new ProjectionDaemon(app, database);
console.log('ready');

let held = -1;
const watch = setInterval(() => {
  if (daemon.held.length === held) return;
  held = daemon.held.length;
  console.log(`held ${held} ${Date.now()}`);
}, 5);

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'go') {
    console.log(`started ${Date.now()}`);
    daemon.start();
  }
}
// stdin closed: the parent is done with this process.
clearInterval(watch);
await daemon.stop();
await app[Symbol.asyncDispose]();
await database.close();
