// Runs the service: PGlite in ./data by default, PostgreSQL with DATABASE_URL. OpenAPI at /openapi.json, docs at /docs.
import { mkdirSync } from 'node:fs';
import { createServer, serve } from '@myelin/http';
import { type Database, EventRelay, ProjectionDaemon } from '@myelin/postgres';
import { postgresDatabase } from '@myelin/postgres/pg';
import { pgliteDatabase } from '@myelin/postgres/pglite';
import { buildApp } from './app.ts';
import { api } from './routes.ts';

async function openDatabase(): Promise<Database> {
  const url = process.env.DATABASE_URL;
  if (url !== undefined && url !== '') return postgresDatabase({ connectionString: url });
  mkdirSync('data', { recursive: true });
  return pgliteDatabase({ dataDir: 'data' });
}

const database = await openDatabase();
const app = await buildApp(database);
const workers = [new ProjectionDaemon(app, database).start(), new EventRelay(app, database).start()];
const server = await createServer({ app, routes: api, openapi: { title: '{{name}}', version: '0.1.0' } });
server.addHook('onClose', async () => {
  for (const worker of workers) await worker.stop();
  await database.close();
});
const address = await serve(server, { port: Number(process.env.PORT ?? 3000) });
console.log(`{{name}} is listening at ${address} (docs at ${address}/docs)`);
