// Test support: a process serving the members' cached query (see memberApp.ts). It says `ready` once built, and
// answers each line `<id>` on stdin with `<id> <name as JSON>`.
// Usage: memberProcess.ts <postgres url> <schema> <master key, base64, or - for none: names from the read model>
import { createInterface } from 'node:readline';
import { postgresDatabase } from '../database/postgresDatabase.ts';
import { MemberName, MemberNameInReadModel, memberApp, readModelMemberApp } from './memberApp.ts';

const [url, schema, masterKey] = process.argv.slice(2) as [string, string, string];
const database = postgresDatabase({ connectionString: url, schema });
const keyless = masterKey === '-';
const app = keyless ? await readModelMemberApp(database) : await memberApp(database, masterKey);
process.stdout.write('ready\n');
for await (const id of createInterface({ input: process.stdin })) {
  const answer = await app.mediator.execute(
    keyless ? new MemberNameInReadModel({ id }) : new MemberName({ id }),
  );
  process.stdout.write(`${id} ${JSON.stringify(answer.ok ? answer.data : answer)}\n`);
}
await app.dispose();
await database.close();
