import { localMasterKey } from '@myelin/core';
import { type AuthOptions, bearerAuthenticator, type LiveLimits } from '@myelin/http';
import type { AlertTimes } from './alerts/orderWatch.ts';

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
  /**
   * Who signs the tokens the API accepts: a real issuer (`JWT_*`), or `'development'`: the development issuer,
   * whose key is made on the first start and kept in the data directory (embedded development mode only).
   */
  readonly auth: AuthOptions | 'development';
  /** `POST /api/auth/token` for the development users: embedded development mode only. */
  readonly devTokens: boolean;
  /**
   * The master key that wraps each customer's data key (their personal data is sealed in the log with it): 32 bytes
   * in base64 from `MYELIN_MASTER_KEY`, which production mode requires; or `'development'`: a key made on the first
   * start and kept in the data directory (embedded development mode only).
   */
  readonly masterKey: string | 'development';
  /**
   * The id of `masterKey` (`MYELIN_MASTER_KEY_ID`, `local` by default, which the development key has too): each data
   * key records the id of the master key that wrapped it, so a new master key needs a new id.
   */
  readonly masterKeyId: string;
  /**
   * The master keys `masterKey` replaced (`MYELIN_PREVIOUS_MASTER_KEYS`, `id:base64` entries separated by commas):
   * they open the data keys they wrapped until a rewrap has moved those under `masterKey` (see `masterKeys.ts`).
   */
  readonly previousMasterKeys: readonly PreviousMasterKey[];
  /** Fastify's log level (`LOG_LEVEL`); `warn` by default, so the console shows the URL and what goes wrong. */
  readonly logLevel: string;
  /** Open live streams allowed in all (`LIVE_STREAMS`) and per client (`LIVE_STREAMS_PER_CLIENT`). */
  readonly liveLimits: LiveLimits;
  /**
   * Which proxies' `X-Forwarded-For` names the client (`TRUST_PROXY`: `true`, a hop count, or addresses and
   * CIDR ranges): behind a proxy, every client would otherwise be the proxy, and share one rate limit.
   */
  readonly trustProxy: boolean | number | string | undefined;
  /**
   * Serve Prometheus metrics at `/metrics` (`METRICS=on`); off by default, since they tell anyone who asks how busy
   * the pizzeria is: turn them on where only the scraper can reach the port.
   */
  readonly metrics: boolean;
  /**
   * The bearer token the scraper must send for `/metrics` (`METRICS_TOKEN`, 32 random characters or more), which
   * production mode requires with `METRICS=on`: the API's port is often public, and the metrics say how busy it is.
   */
  readonly metricsToken?: string;
  /**
   * When an order waits too long, in minutes: the kitchen alert (`KITCHEN_ALERT_MINUTES`, 10), the delivery alert
   * (`DELIVERY_ALERT_MINUTES`, 15), and the stale order's cancellation (`STALE_ORDER_MINUTES`, 60).
   */
  readonly alerts: Partial<AlertTimes>;
}

/** A master key that wrapped data keys before the current one: its id, and the key in base64. */
export interface PreviousMasterKey {
  readonly id: string;
  readonly secret: string;
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
 * The configuration from the command line (`--role`) and the environment. Nothing set: embedded development mode
 * (PGlite in `dataDir`, development users, one process). `DATABASE_URL` or `NODE_ENV=production` is production
 * mode, which needs a real token issuer (`JWT_*`) and never has development users; README.md lists the settings.
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
  const production = database.engine === 'postgres' || env.NODE_ENV === 'production';
  const nats =
    env.NATS_URL !== undefined && env.NATS_URL !== ''
      ? { url: env.NATS_URL, prefix: natsPrefix(env.NATS_PREFIX ?? 'pizzeria') }
      : undefined;
  const host = env.HOST || '127.0.0.1';
  const auth = authOf(env, production);
  // Development logins let anyone sign in as the manager with the password 'manager': on an address other machines
  // reach, only when asked for by name.
  if (auth.devTokens && !isLoopback(host) && env.DEV_TOKENS !== 'true') {
    throw new ConfigError(
      `HOST=${host} serves other machines, and the development logins (anyone may sign in as manager, the password is the name) would be open to them: give a token issuer (JWT_ISSUER, JWT_AUDIENCE, JWT_SECRET or JWT_JWKS_URL), set DEV_TOKENS=false, or DEV_TOKENS=true to open them to the network knowingly`,
    );
  }
  return {
    role,
    port: portOf(env.PORT),
    host,
    database,
    nats,
    ...auth,
    ...masterKeysOf(env, production),
    logLevel: env.LOG_LEVEL ?? 'warn',
    liveLimits: {
      ...countOf('LIVE_STREAMS', env.LIVE_STREAMS, 'streams'),
      ...countOf('LIVE_STREAMS_PER_CLIENT', env.LIVE_STREAMS_PER_CLIENT, 'streamsPerClient'),
    },
    trustProxy: trustProxyOf(env.TRUST_PROXY),
    ...metricsOf(env, production),
    alerts: {
      ...countOf('KITCHEN_ALERT_MINUTES', env.KITCHEN_ALERT_MINUTES, 'kitchenMinutes'),
      ...countOf('DELIVERY_ALERT_MINUTES', env.DELIVERY_ALERT_MINUTES, 'deliveryMinutes'),
      ...countOf('STALE_ORDER_MINUTES', env.STALE_ORDER_MINUTES, 'staleMinutes'),
    },
  };
}

/** `METRICS` and `METRICS_TOKEN`, checked: a token is required in production mode, and must be random. */
function metricsOf(env: Environment, production: boolean): Pick<PizzeriaConfig, 'metrics' | 'metricsToken'> {
  const metrics = switchOf('METRICS', env.METRICS);
  const token = env.METRICS_TOKEN || undefined;
  if (token === undefined) {
    if (metrics && production) {
      throw new ConfigError(
        `METRICS=on in production mode (${whyProduction(env)}) needs METRICS_TOKEN, the bearer token the scraper sends (openssl rand -base64 32): the API's port may be public`,
      );
    }
    return { metrics };
  }
  if (!metrics) throw new ConfigError('METRICS_TOKEN is set but METRICS is not on: set METRICS=on too');
  if (token.length < 32 || new Set(token).size < 8) {
    throw new ConfigError('METRICS_TOKEN must be 32 random characters or more (openssl rand -base64 32)');
  }
  return { metrics, metricsToken: token };
}

/** Whether only this machine can reach an address: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** An on/off setting; off when unset. */
function switchOf(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'off') return false;
  if (value === 'on') return true;
  throw new ConfigError(`${name} must be on or off, not '${value}'`);
}

/** A positive whole number setting, as the option it sets; nothing when unset. */
function countOf<K extends string>(
  name: string,
  value: string | undefined,
  option: K,
): { [P in K]?: number } {
  if (value === undefined || value === '') return {};
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) {
    throw new ConfigError(`${name} must be a whole number of 1 or more, not '${value}'`);
  }
  return { [option]: count } as { [P in K]?: number };
}

function trustProxyOf(value: string | undefined): boolean | number | string | undefined {
  if (value === undefined || value === '' || value === 'false') return undefined;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  if (!/^[0-9a-fA-F.:/, ]+$/.test(value)) {
    throw new ConfigError(
      `TRUST_PROXY must be true, a number of proxy hops, or proxy addresses and CIDR ranges, not '${value}'`,
    );
  }
  return value;
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

/** The issuer the JWT_* settings name; without them, the development issuer, which production mode refuses. */
function authOf(env: Environment, production: boolean): Pick<PizzeriaConfig, 'auth' | 'devTokens'> {
  const names = ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_SECRET', 'JWT_JWKS_URL'] as const;
  const given = names.filter((name) => env[name] !== undefined && env[name] !== '');
  const devTokens = env.DEV_TOKENS === 'true' || (given.length === 0 && env.DEV_TOKENS !== 'false');
  if (production && env.DEV_TOKENS === 'true') {
    throw new ConfigError(
      `DEV_TOKENS=true is refused in production mode (${whyProduction(env)}): development logins exist only in embedded development mode`,
    );
  }
  if (given.length === 0) {
    if (production) {
      throw new ConfigError(
        `production mode (${whyProduction(env)}) needs a token issuer: set JWT_ISSUER and JWT_AUDIENCE, with JWT_JWKS_URL (the issuer’s public keys) or JWT_SECRET (HS256, 32 characters or more)`,
      );
    }
    return { auth: 'development', devTokens };
  }
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
  if (devTokens && secret === undefined) {
    throw new ConfigError('DEV_TOKENS=true signs tokens with JWT_SECRET; it cannot with JWT_JWKS_URL');
  }
  const auth: AuthOptions =
    secret !== undefined ? { issuer, audience, secret } : { issuer, audience, jwksUrl: jwksUrl ?? '' };
  // The rest is what the authenticator itself refuses (a secret not random, keys over plain HTTP): asked here, so
  // that the start says which setting is wrong rather than failing later with a stack.
  try {
    bearerAuthenticator(auth);
  } catch (error) {
    const setting = secret !== undefined ? 'JWT_SECRET' : 'JWT_JWKS_URL';
    throw new ConfigError(
      `${setting}: ${(error as Error).message.replace(/^auth: (a shared secret |jwksUrl )?/, '')}`,
    );
  }
  return { auth, devTokens };
}

/**
 * The master keys of personal data: `MYELIN_MASTER_KEY` and its id, and the keys it replaced, checked. Without it,
 * the development key, which production mode refuses. No message shows a key, nor text that might be one.
 */
function masterKeysOf(
  env: Environment,
  production: boolean,
): Pick<PizzeriaConfig, 'masterKey' | 'masterKeyId' | 'previousMasterKeys'> {
  const masterKey = currentMasterKeyOf(env, production);
  const givenId = env.MYELIN_MASTER_KEY_ID?.trim() ?? '';
  const list = env.MYELIN_PREVIOUS_MASTER_KEYS?.trim() ?? '';
  if (masterKey === 'development') {
    // The development key is the one kept in the data folder, named 'local'; a rotation starts by giving its
    // successor in MYELIN_MASTER_KEY, so neither setting can mean anything without it.
    for (const [name, value, what] of [
      ['MYELIN_MASTER_KEY_ID', givenId, 'the key it names'],
      ['MYELIN_PREVIOUS_MASTER_KEYS', list, 'the key that replaces them'],
    ] as const) {
      if (value !== '') {
        throw new ConfigError(
          `${name} needs MYELIN_MASTER_KEY, ${what}: unset, the current key is the development key kept in the data folder, whose id is 'local'`,
        );
      }
    }
    return { masterKey, masterKeyId: 'local', previousMasterKeys: [] };
  }
  if (givenId !== '' && !masterKeyIdPattern.test(givenId)) {
    throw new ConfigError(`MYELIN_MASTER_KEY_ID ${badId}`);
  }
  const masterKeyId = givenId === '' ? 'local' : givenId;
  return { masterKey, masterKeyId, previousMasterKeys: previousMasterKeysOf(list, masterKey, masterKeyId) };
}

// Ids are written beside each data key and shown in messages: plain, and shorter than a key in base64 (43 or 44
// characters), so that a key given where its id goes, or an entry written key:id, is never shown as one.
const masterKeyIdPattern = /^[A-Za-z0-9_.-]{1,32}$/;
const badId =
  "is 1 to 32 letters, digits, '.', '_' or '-' (not shown here: it may be a key given in the wrong place)";

/** `MYELIN_MASTER_KEY`, checked; without it, the development key, which production mode refuses. */
function currentMasterKeyOf(env: Environment, production: boolean): string | 'development' {
  const key = env.MYELIN_MASTER_KEY?.trim() ?? '';
  if (key === '') {
    if (production) {
      throw new ConfigError(
        `production mode (${whyProduction(env)}) needs MYELIN_MASTER_KEY: the master key that protects customers’ personal data, 32 random bytes in base64 (openssl rand -base64 32), from your secret store and kept apart from the database’s backups; the same key for every process, for as long as the data lives`,
      );
    }
    return 'development';
  }
  try {
    localMasterKey(key);
  } catch (error) {
    throw new ConfigError(`MYELIN_MASTER_KEY: ${(error as Error).message}`);
  }
  return key;
}

/**
 * `MYELIN_PREVIOUS_MASTER_KEYS`: `id:base64` entries separated by commas (base64 has neither), each a key of its own
 * under an id of its own. A bad entry is named by its position, and by its id once that is known to be one.
 */
function previousMasterKeysOf(list: string, current: string, currentId: string): PreviousMasterKey[] {
  if (list === '') return [];
  const entries = list.split(',');
  const previous: PreviousMasterKey[] = [];
  for (const [index, entry] of entries.entries()) {
    const refuse = (why: string) =>
      new ConfigError(`MYELIN_PREVIOUS_MASTER_KEYS, entry ${index + 1} of ${entries.length}: ${why}`);
    if (entry.trim() === '') throw refuse('is empty');
    const colon = entry.indexOf(':');
    if (colon < 0) throw refuse("is not id:key (the key's id, a colon, then the key in base64)");
    const id = entry.slice(0, colon).trim();
    const secret = entry.slice(colon + 1).trim();
    if (!masterKeyIdPattern.test(id)) throw refuse(`its id ${badId}`);
    try {
      localMasterKey(secret, id);
    } catch (error) {
      throw refuse(`key '${id}': ${(error as Error).message}`);
    }
    // Two keys of one id could not be told apart: the data keys record only the id.
    if (id === currentId) {
      throw refuse(
        `its id '${id}' is the current key's (MYELIN_MASTER_KEY_ID, 'local' when unset): a new key needs a new id`,
      );
    }
    const sameId = previous.findIndex((key) => key.id === id);
    if (sameId >= 0)
      throw refuse(`its id '${id}' is entry ${sameId + 1}'s too: each key needs an id of its own`);
    // The same key under two ids rotates nothing: most likely the old key was given where the new one goes.
    const bytes = Buffer.from(secret, 'base64');
    if (bytes.equals(Buffer.from(current, 'base64'))) {
      throw refuse(
        `key '${id}' is the same key as MYELIN_MASTER_KEY: a rotation makes a new key (openssl rand -base64 32) for MYELIN_MASTER_KEY, under a new MYELIN_MASTER_KEY_ID`,
      );
    }
    const sameKey = previous.findIndex((key) => bytes.equals(Buffer.from(key.secret, 'base64')));
    if (sameKey >= 0) throw refuse(`key '${id}' is entry ${sameKey + 1}'s key too`);
    previous.push({ id, secret });
  }
  return previous;
}

/** Where embedded mode keeps its database and its development keys; production mode has no such folder. */
export function dataDirOf(config: PizzeriaConfig): string {
  if (config.database.engine !== 'pglite') throw new ConfigError('the development keys need DATA_DIR');
  return config.database.dataDir;
}

function whyProduction(env: Environment): string {
  return env.NODE_ENV === 'production' ? 'NODE_ENV=production' : 'DATABASE_URL is set';
}
