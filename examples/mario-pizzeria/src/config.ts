import type { AuthOptions } from '@myelin/http';
import { developmentAuth } from './api/auth.ts';

/** What a process of the pizzeria does: serve the API, run the projections and the relays, or both. */
export const processRoles = ['api', 'projector', 'all'] as const;
export type ProcessRole = (typeof processRoles)[number];

export type DatabaseConfig =
  | { readonly engine: 'pglite'; readonly dataDir: string; readonly schema: string }
  | { readonly engine: 'postgres'; readonly url: string; readonly schema: string };

export interface PizzeriaConfig {
  readonly role: ProcessRole;
  readonly port: number;
  readonly host: string;
  readonly database: DatabaseConfig;
  /** JetStream for integration events; none in embedded mode. */
  readonly nats: { readonly url: string; readonly prefix: string } | undefined;
  readonly auth: AuthOptions;
  readonly devTokens: boolean;
  /** Fastify's log level (`LOG_LEVEL`); `warn` by default, so the console shows the URL and what goes wrong. */
  readonly logLevel: string;
}

/** A setting that cannot work: the process says which and stops before opening anything. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The configuration from the command line (`--role`) and the environment. Nothing set: embedded mode (PGlite in
 * `dataDir`, development users, one process). `DATABASE_URL`, `NATS_URL` and `JWT_*` switch to production
 * pieces one by one; README.md lists them.
 */
export function readConfig(argv: readonly string[], env: Environment, dataDir: string): PizzeriaConfig {
  const role = roleOf(argv);
  const schema = env.DATABASE_SCHEMA ?? 'pizzeria';
  const database: DatabaseConfig =
    env.DATABASE_URL !== undefined && env.DATABASE_URL !== ''
      ? { engine: 'postgres', url: env.DATABASE_URL, schema }
      : { engine: 'pglite', dataDir: env.DATA_DIR ?? dataDir, schema };
  if (database.engine === 'pglite' && role !== 'all') {
    throw new ConfigError(
      `--role ${role} needs DATABASE_URL: the embedded database lives in one process, which must do everything`,
    );
  }
  const nats =
    env.NATS_URL !== undefined && env.NATS_URL !== ''
      ? { url: env.NATS_URL, prefix: natsPrefix(env.NATS_PREFIX ?? 'pizzeria') }
      : undefined;
  return {
    role,
    port: portOf(env.PORT),
    host: env.HOST ?? '127.0.0.1',
    database,
    nats,
    ...authOf(env),
    logLevel: env.LOG_LEVEL ?? 'warn',
  };
}

function roleOf(argv: readonly string[]): ProcessRole {
  let role: string = 'all';
  for (const [index, arg] of argv.entries()) {
    if (arg === '--role') role = argv[index + 1] ?? '';
    else if (arg.startsWith('--role=')) role = arg.slice('--role='.length);
  }
  if (!(processRoles as readonly string[]).includes(role)) {
    throw new ConfigError(`--role must be one of ${processRoles.join(', ')}, not '${role}'`);
  }
  return role as ProcessRole;
}

function portOf(value: string | undefined): number {
  if (value === undefined || value === '') return 3000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError(`PORT must be a port number, not '${value}'`);
  }
  return port;
}

function natsPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new ConfigError(`NATS_PREFIX must be letters, digits, '-' and '_', not '${prefix}'`);
  }
  return prefix;
}

/** The development issuer, unless JWT_* name a real one (then development tokens only with DEV_TOKENS=true). */
function authOf(env: Environment): { auth: AuthOptions; devTokens: boolean } {
  const names = ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_SECRET', 'JWT_JWKS_URL'] as const;
  const given = names.filter((name) => env[name] !== undefined && env[name] !== '');
  if (given.length === 0) return { auth: developmentAuth, devTokens: env.DEV_TOKENS !== 'false' };
  const issuer = env.JWT_ISSUER ?? '';
  const audience = env.JWT_AUDIENCE ?? '';
  const secret = env.JWT_SECRET || undefined;
  const jwksUrl = env.JWT_JWKS_URL || undefined;
  if (issuer === '' || audience === '') {
    throw new ConfigError('JWT_ISSUER and JWT_AUDIENCE go together, with JWT_SECRET or JWT_JWKS_URL');
  }
  if ((secret === undefined) === (jwksUrl === undefined)) {
    throw new ConfigError('Give JWT_SECRET (HS256) or JWT_JWKS_URL (the issuer’s public keys), not both');
  }
  if (secret !== undefined && secret.length < 32)
    throw new ConfigError('JWT_SECRET needs 32 characters or more');
  const devTokens = env.DEV_TOKENS === 'true';
  if (devTokens && secret === undefined) {
    throw new ConfigError('DEV_TOKENS=true signs tokens with JWT_SECRET; it cannot with JWT_JWKS_URL');
  }
  const auth: AuthOptions =
    secret !== undefined ? { issuer, audience, secret } : { issuer, audience, jwksUrl: jwksUrl ?? '' };
  return { auth, devTokens };
}
