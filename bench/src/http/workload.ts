// What both HTTP servers serve and what the load generator asks of them: the same routes, the same accounts, the
// same read-model documents, the same pool size.
import { connectionString, poolSize } from '../append/workload.ts';

export { connectionString, poolSize };

/** Myelin's schema (its migrations, made when the application is built) and the twin's (the same migrations). */
export const myelinSchema = 'bench_http';

/** The schema of each side: each its own, so that each side's stored deposits can be counted. */
export const schemaOf = (name: 'myelin' | 'raw' | 'otelApi' | 'otelSdk' | 'rawOtelSdk', schema: string) =>
  name === 'otelApi'
    ? `${schema}_otel_api`
    : name === 'otelSdk' || name === 'rawOtelSdk'
      ? `${schema}_otel_sdk`
      : schema;
export const rawSchema = 'bench_http_raw';

/** The event both sides store for a deposit: its type, and the data it carries. */
export const depositedType = 'bench.http.account.deposited.v1';
export interface DepositedData {
  readonly accountId: string;
  readonly amount: number;
}

/** What the command route answers: the account's balance and version after the deposit. */
export interface DepositResult {
  readonly balance: number;
  readonly version: number;
}

/** The read model document the query route answers with. */
export interface AccountBalance {
  readonly id: string;
  readonly balance: number;
  readonly version: number;
}

/** The read model's name: Myelin keys its documents `account-balances@1`; the twin, by hand, `account-balances`. */
export const balancesModel = 'account-balances';

/** How many account documents the query route reads from, at random; seeded alike on both sides. */
export const seededAccounts = 10_000;

/** The id of the i-th seeded account (0-based) and its document. */
export function seededId(i: number): string {
  return `seeded-${i}`;
}

/**
 * The seeded documents as one INSERT … SELECT into `read_documents` of a schema, under a model key: the same rows
 * on both sides, so that both read the same number of equally sized documents from equally sized indexes.
 */
export function seedDocumentsSql(schema: string, model: string): string {
  return `INSERT INTO "${schema}".read_documents (model, id, doc)
    SELECT '${model}', 'seeded-' || g, jsonb_build_object('id', 'seeded-' || g, 'balance', g * 10, 'version', 10)
    FROM generate_series(0, ${seededAccounts - 1}) g`;
}

/**
 * Accounts the command route deposits to: `window` accounts at a time, each getting `depositsPerAccount` deposits
 * spaced `window` requests apart, then the next `window` accounts. Request k goes to account
 * `floor(k / (window × depositsPerAccount)) × window + k mod window`. So consecutive requests (the 50 in flight at
 * once) never share an account, and no concurrency conflict happens unless a request falls `window` requests
 * behind the others; and, as in the append benchmark's command path, one deposit in ten opens an account (an
 * append to a new stream) and streams end ten events long, whatever the throughput of the side.
 */
export const accountWindow = 1000;
export const depositsPerAccount = 10;

export function accountOf(prefix: string, k: number): string {
  const generation = Math.floor(k / (accountWindow * depositsPerAccount));
  return `${prefix}-${generation * accountWindow + (k % accountWindow)}`;
}

/** The JSON body of every deposit the load generator sends. */
export const depositBody = JSON.stringify({ amount: 1 });

/** The limits both sides validate a deposit's fields against (zod for Myelin, Fastify's ajv for the twin). */
export const idLimits = { minLength: 1, maxLength: 100 } as const;
export const amountLimits = { minimum: 1, maximum: 1_000_000 } as const;
