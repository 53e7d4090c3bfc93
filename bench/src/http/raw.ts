// The raw twin: plain Fastify and a `pg` pool of the same size, written for this one API. Fastify validates the
// path and the body with its built-in JSON Schema validator (ajv), against the same limits as Myelin's zod schemas.
// The deposit does by hand what Myelin's event-sourced repository and unit of work send: read the account's
// stream, fold it into the balance, then append the one event with the version read as the expected version, in
// one statement that commits by itself (Myelin's unit of work also sends a lone single-statement append without
// BEGIN/COMMIT: an autocommitted statement is its own transaction). Two statements per deposit, as Myelin's.
// The query is one SELECT of the account's document. Both statements are named (prepared once per connection),
// as Myelin prepares the statements every command runs.
//
// Instrumented (`telemetry`), it records by hand what instrumented Myelin records for a deposit: @fastify/otel's
// request span (with Myelin's options), a `process` span with the same attributes around the work, a `commit`
// span around the append, the trace context stored with the event, and the `messaging.process.duration`
// histogram with the same attributes: what OpenTelemetry's SDK costs this API with nothing of Myelin's around it.
import { randomUUID } from 'node:crypto';
import { metrics, SpanKind, trace } from '@opentelemetry/api';
import Fastify, { type FastifyInstance, type FastifyPluginCallback } from 'fastify';
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

/** The twin's statements on one schema. */
function statementsOf(schema: string) {
  const s = `"${schema}"`;
  // $1 stream, $2 its version after the append, $3 event id, $4 type, $5 data, $6 occurred at, $7 correlation id,
  // $8 traceparent. The stream row moves under the expected-version check first and the event is inserted only
  // when it did: zero rows inserted means a conflict, and then nothing was written.
  const insertEvent = `
  INSERT INTO ${s}.events
    (event_id, stream_id, stream_version, type, type_version, data, occurred_at, correlation_id, causation_id, principal, traceparent)
  SELECT $3, stream.stream_id, $2, $4, 1, $5, $6, $7, $7, NULL, $8 FROM stream`;
  return {
    readStream: `SELECT data FROM ${s}.events WHERE stream_id = $1 ORDER BY stream_version`,
    appendToExisting: `
  WITH stream AS (
    UPDATE ${s}.streams SET version = $2 WHERE stream_id = $1 AND version = $2 - 1 RETURNING stream_id
  )${insertEvent}`,
    appendToNew: `
  WITH stream AS (
    INSERT INTO ${s}.streams (stream_id, version) VALUES ($1, $2) ON CONFLICT (stream_id) DO NOTHING
    RETURNING stream_id
  )${insertEvent}`,
    readDocument: `SELECT doc FROM ${s}.read_documents WHERE model = $1 AND id = $2`,
  };
}

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

/** The twin; `telemetry` instruments it by hand as instrumented Myelin is (an SDK must be registered first). */
export async function createRawServer(
  options: { readonly schema?: string; readonly telemetry?: boolean } = {},
): Promise<FastifyInstance> {
  const sql = statementsOf(options.schema ?? rawSchema);
  const pool = new pg.Pool({ connectionString, max: poolSize });
  pool.on('error', () => {}); // an idle connection that breaks must not crash the run; the pool replaces it
  const server = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  server.addHook('onClose', () => pool.end());
  const instrumented = options.telemetry === true ? await instrumentation(server) : undefined;

  const deposit = async (
    id: string,
    amount: number,
    ids: { readonly event: string; readonly correlation: string },
    traceparent: string | null,
  ) => {
    const streamId = `Account-${id}`;
    const { rows } = await pool.query<{ data: DepositedData }>({
      name: 'http_raw_read',
      text: sql.readStream,
      values: [streamId],
    });
    let balance = 0;
    for (const row of rows) balance += row.data.amount;
    const version = rows.length + 1;
    const data: DepositedData = { accountId: id, amount };
    const values = [
      streamId,
      version,
      ids.event,
      depositedType,
      JSON.stringify(data),
      new Date(),
      ids.correlation,
      traceparent,
    ];
    const append = () =>
      pool.query(
        version === 1
          ? { name: 'http_raw_append_new', text: sql.appendToNew, values }
          : { name: 'http_raw_append', text: sql.appendToExisting, values },
      );
    const appended = await (instrumented === undefined ? append() : instrumented.commit(append));
    return appended.rowCount === 1 ? { balance: balance + amount, version } : undefined;
  };

  server.post('/accounts/:id/deposits', { schema: depositSchema }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const { amount } = request.body as { amount: number };
    const ids = { event: randomUUID(), correlation: randomUUID() };
    const result =
      instrumented === undefined
        ? await deposit(id, amount, ids, null)
        : await instrumented.process(ids, (traceparent) => deposit(id, amount, ids, traceparent));
    if (result === undefined) return reply.code(409).type('application/problem+json').send(conflict);
    return result;
  });

  server.get('/accounts/:id', { schema: { params } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const { rows } = await pool.query<{ doc: unknown }>({
      name: 'http_raw_document',
      text: sql.readDocument,
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

const messageType = 'bench.http.Deposit';
const processAttributes = {
  'messaging.system': 'myelin',
  'messaging.operation.type': 'process',
  'messaging.destination.name': messageType,
  'myelin.message.kind': 'command',
} as const;

/**
 * The spans and the histogram instrumented Myelin records for a deposit, by hand: @fastify/otel's request span
 * with the options `createServer` gives it, then `process` and `commit` spans and the duration histogram with the
 * attributes Myelin gives them.
 */
async function instrumentation(server: FastifyInstance) {
  const { FastifyOtelInstrumentation } = await import('@fastify/otel');
  const otel = new FastifyOtelInstrumentation({
    instrumentHooks: false,
    instrumentHandler: false,
    requestHook: (span, request) => {
      span.setAttribute('url.path', request.url.split('?')[0] ?? '');
      const route = request.routeOptions.url;
      span.updateName(route === undefined ? request.method : `${request.method} ${route}`);
    },
  });
  await server.register(otel.plugin() as FastifyPluginCallback);
  const tracer = trace.getTracer('bench-raw');
  const duration = metrics.getMeter('bench-raw').createHistogram('messaging.process.duration', {
    unit: 's',
    advice: {
      explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    },
  });
  return {
    process: <T>(
      ids: { readonly event: string; readonly correlation: string },
      work: (traceparent: string) => Promise<T | undefined>,
    ) => {
      const started = performance.now();
      const attributes = {
        ...processAttributes,
        'messaging.message.id': ids.event,
        'messaging.message.conversation_id': ids.correlation,
      };
      return tracer.startActiveSpan(`process ${messageType}`, { attributes }, async (span) => {
        try {
          const { traceId, spanId, traceFlags } = span.spanContext();
          const result = await work(`00-${traceId}-${spanId}-0${traceFlags & 1}`);
          const status = result === undefined ? 409 : 200;
          span.setAttribute('myelin.result.status', status);
          duration.record((performance.now() - started) / 1000, {
            ...processAttributes,
            'myelin.result.status': status,
          });
          return result;
        } finally {
          span.end();
        }
      });
    },
    commit: <T>(append: () => Promise<T>) =>
      tracer.startActiveSpan(
        'commit',
        {
          kind: SpanKind.CLIENT,
          attributes: { 'db.system.name': 'postgresql', 'db.operation.name': 'COMMIT' },
        },
        async (span) => {
          try {
            return await append();
          } finally {
            span.end();
          }
        },
      ),
  };
}
