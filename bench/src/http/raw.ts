// The raw twin: plain Fastify and a `pg` pool of the same size, written for this one API. Fastify validates the
// path and the body with its built-in JSON Schema validator (ajv), against the same limits as Myelin's zod schemas.
// The deposit does by hand what Myelin's event-sourced repository and unit of work send: read the account's
// stream, fold it into the balance, then append the one event with the version read as the expected version, in
// one statement that commits by itself (Myelin's unit of work also sends a lone single-statement append without
// BEGIN/COMMIT: an autocommitted statement is its own transaction). Two statements per deposit, as Myelin's.
// The query is one SELECT of the account's document. Both statements are named (prepared once per connection),
// as Myelin prepares the statements every command runs.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import {
  amountLimits,
  balancesModel,
  connectionString,
  type DepositedData,
  depositedType,
  idLimits,
  poolSize,
  rawSchema,
} from './workload.ts';

const s = `"${rawSchema}"`;

const readStreamSql = `SELECT data FROM ${s}.events WHERE stream_id = $1 ORDER BY stream_version`;

// $1 stream, $2 its version after the append, $3 event id, $4 type, $5 data, $6 occurred at, $7 correlation id.
// The stream row moves under the expected-version check first and the event is inserted only when it did: zero
// rows inserted means a conflict, and then nothing was written.
const insertEvent = `
  INSERT INTO ${s}.events
    (event_id, stream_id, stream_version, type, type_version, data, occurred_at, correlation_id, causation_id, principal)
  SELECT $3, stream.stream_id, $2, $4, 1, $5, $6, $7, $7, NULL FROM stream`;
const appendToExistingSql = `
  WITH stream AS (
    UPDATE ${s}.streams SET version = $2 WHERE stream_id = $1 AND version = $2 - 1 RETURNING stream_id
  )${insertEvent}`;
const appendToNewSql = `
  WITH stream AS (
    INSERT INTO ${s}.streams (stream_id, version) VALUES ($1, $2) ON CONFLICT (stream_id) DO NOTHING
    RETURNING stream_id
  )${insertEvent}`;

const readDocumentSql = `SELECT doc FROM ${s}.read_documents WHERE model = $1 AND id = $2`;

const idSchema = { type: 'string', ...idLimits } as const;
const params = {
  type: 'object',
  properties: { id: idSchema },
  required: ['id'],
} as const;
const depositSchema = {
  params,
  body: {
    type: 'object',
    properties: { amount: { type: 'integer', ...amountLimits } },
    required: ['amount'],
  },
} as const;

const conflict = { type: 'about:blank', title: 'Conflict', status: 409 };

export async function createRawServer(): Promise<FastifyInstance> {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  pool.on('error', () => {}); // an idle connection that breaks must not crash the run; the pool replaces it
  const server = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  server.addHook('onClose', () => pool.end());

  server.post('/accounts/:id/deposits', { schema: depositSchema }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const { amount } = request.body as { amount: number };
    const streamId = `Account-${id}`;
    const { rows } = await pool.query<{ data: DepositedData }>({
      name: 'http_raw_read',
      text: readStreamSql,
      values: [streamId],
    });
    let balance = 0;
    for (const row of rows) balance += row.data.amount;
    const version = rows.length + 1;
    const data: DepositedData = { accountId: id, amount };
    const values = [
      streamId,
      version,
      randomUUID(),
      depositedType,
      JSON.stringify(data),
      new Date(),
      randomUUID(),
    ];
    const appended = await pool.query(
      version === 1
        ? { name: 'http_raw_append_new', text: appendToNewSql, values }
        : { name: 'http_raw_append', text: appendToExistingSql, values },
    );
    if (appended.rowCount !== 1) return reply.code(409).type('application/problem+json').send(conflict);
    return { balance: balance + amount, version };
  });

  server.get('/accounts/:id', { schema: { params } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const { rows } = await pool.query<{ doc: unknown }>({
      name: 'http_raw_document',
      text: readDocumentSql,
      values: [balancesModel, id],
    });
    const row = rows[0];
    if (row === undefined) {
      return reply.code(404).type('application/problem+json').send({ title: 'Not Found', status: 404 });
    }
    return row.doc;
  });

  return server;
}
