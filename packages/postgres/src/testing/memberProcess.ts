// Test support: a process serving the members' cached query (see memberApp.ts). It says `ready` once built, and
// answers each line `<id>` on stdin with `<id> <name as JSON>`.
// Usage: memberProcess.ts <postgres url> <schema> <how>, where <how> is the master key (base64), or for a process
// without it, answering from the read model: `keyless` (it imports memberApp.ts, which declares the members'
// personal data) or `keyless-asked` (it imports nothing that declares any, and sets `hearErasures`).
import { createInterface } from 'node:readline';
import type { Application, OperationResult } from '@myelin/core';
import { postgresDatabase } from '../database/postgresDatabase.ts';

const [url, schema, how] = process.argv.slice(2) as [string, string, string];
const database = postgresDatabase({ connectionString: url, schema });
let app: Application;
let ask: (id: string) => Promise<OperationResult<string | null>>;
if (how === 'keyless' || how === 'keyless-asked') {
  if (how === 'keyless') await import('./memberApp.ts');
  const { MemberNameInReadModel, readModelMemberApp } = await import('./readModelMemberApp.ts');
  app = await readModelMemberApp(database, how === 'keyless-asked' ? { hearErasures: true } : {});
  ask = (id) => app.mediator.execute(new MemberNameInReadModel({ id }));
} else {
  const { MemberName, memberApp } = await import('./memberApp.ts');
  app = await memberApp(database, how);
  ask = (id) => app.mediator.execute(new MemberName({ id }));
}
process.stdout.write('ready\n');
for await (const id of createInterface({ input: process.stdin })) {
  const answer = await ask(id);
  process.stdout.write(`${id} ${JSON.stringify(answer.ok ? answer.data : answer)}\n`);
}
await app.dispose();
await database.close();
