import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localMasterKey, newMasterKey } from '@myelin/core';
import { describe, expect, it } from 'vitest';
import { developmentAuth, developmentKeyFile } from './api/auth.ts';
import { ConfigError, readConfig } from './config.ts';
import { developmentMasterKey, keptKey } from './keptKeys.ts';

const dataDir = '/somewhere/.data';

describe('the configuration', () => {
  it('is embedded mode when nothing is set: PGlite, development users, port 3000 on 127.0.0.1, role all', () => {
    expect(readConfig([], {}, dataDir)).toEqual({
      role: 'all',
      port: 3000,
      host: '127.0.0.1',
      database: { engine: 'pglite', dataDir, schema: 'pizzeria' },
      nats: undefined,
      auth: 'development',
      devTokens: true,
      masterKey: 'development',
      masterKeyId: 'local',
      previousMasterKeys: [],
      logLevel: 'warn',
      liveLimits: {},
      trustProxy: undefined,
      metrics: false,
      alerts: {},
    });
  });

  it('takes PostgreSQL, NATS, a real issuer and a role from the environment and the command line', () => {
    const masterKey = newMasterKey();
    const config = readConfig(
      ['--role', 'api'],
      {
        DATABASE_URL: 'postgres://db/pizzeria',
        DATABASE_SCHEMA: 'shop',
        NATS_URL: 'nats://bus:4222',
        JWT_ISSUER: 'https://id.example',
        JWT_AUDIENCE: 'pizzeria',
        JWT_JWKS_URL: 'https://id.example/jwks.json',
        PORT: '8080',
        HOST: '0.0.0.0',
        LIVE_STREAMS: '50000',
        LIVE_STREAMS_PER_CLIENT: '5',
        TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
        MYELIN_MASTER_KEY: masterKey,
      },
      dataDir,
    );
    expect(config).toMatchObject({
      role: 'api',
      port: 8080,
      host: '0.0.0.0',
      database: { engine: 'postgres', url: 'postgres://db/pizzeria', schema: 'shop' },
      nats: { url: 'nats://bus:4222', prefix: 'pizzeria' },
      auth: { issuer: 'https://id.example', audience: 'pizzeria', jwksUrl: 'https://id.example/jwks.json' },
      devTokens: false,
      liveLimits: { streams: 50_000, streamsPerClient: 5 },
      trustProxy: '10.0.0.0/8, 127.0.0.1',
      masterKey,
    });
    expect(
      readConfig(
        [],
        { KITCHEN_ALERT_MINUTES: '5', DELIVERY_ALERT_MINUTES: '20', STALE_ORDER_MINUTES: '45' },
        dataDir,
      ).alerts,
    ).toEqual({ kitchenMinutes: 5, deliveryMinutes: 20, staleMinutes: 45 });
    expect(() => readConfig([], { STALE_ORDER_MINUTES: '0' }, dataDir)).toThrow(
      "STALE_ORDER_MINUTES must be a whole number of 1 or more, not '0'",
    );
    expect(readConfig([], { METRICS: 'on' }, dataDir).metrics).toBe(true);
    expect(readConfig([], {}, dataDir).metrics).toBe(false);
    expect(() => readConfig([], { METRICS: 'yes' }, dataDir)).toThrow("METRICS must be on or off, not 'yes'");
    // A token for the scraper: required in production mode, where the API's port may be public; random.
    const metricsToken = 'Qm4Zt8Lw2Rx6Vc1Np9Hy3Kd7Fs5Gj0Ab';
    const production = {
      NODE_ENV: 'production',
      JWT_ISSUER: 'i',
      JWT_AUDIENCE: 'a',
      JWT_SECRET: 'Zr3Pq9sVw1Xy8Tb6Nc4Md2Lf0Kg7Jh5A',
      MYELIN_MASTER_KEY: newMasterKey(),
      METRICS: 'on',
    };
    expect(() => readConfig([], production, dataDir)).toThrow(
      'METRICS=on in production mode (NODE_ENV=production) needs METRICS_TOKEN',
    );
    expect(readConfig([], { ...production, METRICS_TOKEN: metricsToken }, dataDir)).toMatchObject({
      metrics: true,
      metricsToken,
    });
    expect(() => readConfig([], { METRICS: 'on', METRICS_TOKEN: 'x'.repeat(40) }, dataDir)).toThrow(
      'METRICS_TOKEN must be 32 random characters',
    );
    expect(() => readConfig([], { METRICS_TOKEN: metricsToken }, dataDir)).toThrow(
      'METRICS_TOKEN is set but METRICS is not on',
    );
    expect(readConfig([], { TRUST_PROXY: '1' }, dataDir).trustProxy).toBe(1);
    expect(readConfig([], { TRUST_PROXY: 'true' }, dataDir).trustProxy).toBe(true);
    const issuer = {
      JWT_ISSUER: 'i',
      JWT_AUDIENCE: 'a',
      JWT_JWKS_URL: 'https://i/jwks.json',
      MYELIN_MASTER_KEY: newMasterKey(),
    };
    expect(readConfig(['--role=projector'], { DATABASE_URL: 'postgres://db', ...issuer }, dataDir).role).toBe(
      'projector',
    );
  });

  it('refuses production mode without a real issuer, naming the settings it needs, and never has dev users', () => {
    const refused = (env: Record<string, string>) => () => readConfig([], env, dataDir);
    for (const production of [{ DATABASE_URL: 'postgres://db' }, { NODE_ENV: 'production' }]) {
      expect(refused(production)).toThrow(ConfigError);
      expect(refused(production)).toThrow(/JWT_ISSUER and JWT_AUDIENCE, with JWT_JWKS_URL .* or JWT_SECRET/);
      const withSecret = {
        ...production,
        JWT_ISSUER: 'i',
        JWT_AUDIENCE: 'a',
        JWT_SECRET: 'Zr3Pq9sVw1Xy8Tb6Nc4Md2Lf0Kg7Jh5A',
        MYELIN_MASTER_KEY: newMasterKey(),
      };
      expect(readConfig([], withSecret, dataDir).devTokens).toBe(false);
      expect(refused({ ...withSecret, DEV_TOKENS: 'true' })).toThrow(
        /DEV_TOKENS=true is refused in production mode/,
      );
    }
    expect(refused({ NODE_ENV: 'production' })).toThrow('NODE_ENV=production');
    expect(refused({ DATABASE_URL: 'postgres://db' })).toThrow('DATABASE_URL is set');
  });

  it('requires the master key of personal data in production mode, and makes one for embedded development', () => {
    const issuer = { JWT_ISSUER: 'i', JWT_AUDIENCE: 'a', JWT_SECRET: 'Zr3Pq9sVw1Xy8Tb6Nc4Md2Lf0Kg7Jh5A' };
    for (const production of [{ DATABASE_URL: 'postgres://db' }, { NODE_ENV: 'production' }]) {
      for (const missing of [{}, { MYELIN_MASTER_KEY: '' }, { MYELIN_MASTER_KEY: '  ' }]) {
        const refused = () => readConfig([], { ...production, ...issuer, ...missing }, dataDir);
        expect(refused).toThrow(ConfigError);
        expect(refused).toThrow(
          /production mode \(.*\) needs MYELIN_MASTER_KEY: .* 32 random bytes in base64/,
        );
      }
    }
    // Embedded development mode keeps a key of its own in the data directory, unless one is given.
    expect(readConfig([], {}, dataDir).masterKey).toBe('development');
    const given = newMasterKey();
    expect(readConfig([], { MYELIN_MASTER_KEY: given }, dataDir).masterKey).toBe(given);
    expect(readConfig([], { MYELIN_MASTER_KEY: ` ${given}\n` }, dataDir).masterKey).toBe(given);
    // A key that is not one is refused, whatever the mode, without showing it.
    const short = Buffer.alloc(16, 7).toString('base64');
    expect(() => readConfig([], { MYELIN_MASTER_KEY: short }, dataDir)).toThrow(
      'MYELIN_MASTER_KEY: A master key is 32 bytes (44 characters of base64), not 16',
    );
    expect(() => readConfig([], { MYELIN_MASTER_KEY: 'not base64!' }, dataDir)).toThrow(
      'MYELIN_MASTER_KEY: Not base64',
    );
  });

  it('names the master key and takes the keys it replaced, for a rotation', () => {
    const [current, old, older] = [newMasterKey(), newMasterKey(), newMasterKey()];
    // Unnamed, the key is 'local', as the keys before rotations existed were.
    expect(readConfig([], { MYELIN_MASTER_KEY: current }, dataDir)).toMatchObject({
      masterKey: current,
      masterKeyId: 'local',
      previousMasterKeys: [],
    });
    const rotated = readConfig(
      [],
      {
        MYELIN_MASTER_KEY: current,
        MYELIN_MASTER_KEY_ID: ' k3 ',
        // As a secret store may hand it: spaces and a line break around the entries.
        MYELIN_PREVIOUS_MASTER_KEYS: ` k2:${old} ,\n local : ${older}\n`,
      },
      dataDir,
    );
    expect(rotated).toMatchObject({
      masterKey: current,
      masterKeyId: 'k3',
      previousMasterKeys: [
        { id: 'k2', secret: old },
        { id: 'local', secret: older },
      ],
    });
    expect(
      readConfig([], { MYELIN_MASTER_KEY: current, MYELIN_PREVIOUS_MASTER_KEYS: ' ' }, dataDir),
    ).toMatchObject({ previousMasterKeys: [] });
  });

  it('refuses previous master keys that cannot work, naming the entry and never showing a key', () => {
    const [current, old, other] = [newMasterKey(), newMasterKey(), newMasterKey()];
    const short = Buffer.alloc(16, 7).toString('base64');
    const unpadded = old.replace(/=+$/, '');
    const cases: [Record<string, string>, string][] = [
      [{ MYELIN_PREVIOUS_MASTER_KEYS: `k1:${old}` }, 'MYELIN_PREVIOUS_MASTER_KEYS needs MYELIN_MASTER_KEY'],
      [{ MYELIN_MASTER_KEY_ID: 'k2' }, 'MYELIN_MASTER_KEY_ID needs MYELIN_MASTER_KEY'],
      [
        { MYELIN_MASTER_KEY: current, MYELIN_PREVIOUS_MASTER_KEYS: old },
        "MYELIN_PREVIOUS_MASTER_KEYS, entry 1 of 1: is not id:key (the key's id, a colon, then the key in base64)",
      ],
      [
        { MYELIN_MASTER_KEY: current, MYELIN_PREVIOUS_MASTER_KEYS: `k1:${old},k2:${short}` },
        "MYELIN_PREVIOUS_MASTER_KEYS, entry 2 of 2: key 'k2': A master key is 32 bytes (44 characters of base64), not 16",
      ],
      [
        { MYELIN_MASTER_KEY: current, MYELIN_PREVIOUS_MASTER_KEYS: `k1:${old},,k2:${other}` },
        'MYELIN_PREVIOUS_MASTER_KEYS, entry 2 of 3: is empty',
      ],
      // Written key:id: the key is where the id goes, and is not shown as one.
      [
        { MYELIN_MASTER_KEY: current, MYELIN_PREVIOUS_MASTER_KEYS: `${unpadded}:k1` },
        "MYELIN_PREVIOUS_MASTER_KEYS, entry 1 of 1: its id is 1 to 32 letters, digits, '.', '_' or '-'",
      ],
      [
        { MYELIN_MASTER_KEY: current, MYELIN_PREVIOUS_MASTER_KEYS: `k1:${old},k1:${other}` },
        "MYELIN_PREVIOUS_MASTER_KEYS, entry 2 of 2: its id 'k1' is entry 1's too",
      ],
      // The usual slip: the new key given without a new id, so both are 'local'.
      [
        { MYELIN_MASTER_KEY: current, MYELIN_PREVIOUS_MASTER_KEYS: `local:${old}` },
        "MYELIN_PREVIOUS_MASTER_KEYS, entry 1 of 1: its id 'local' is the current key's (MYELIN_MASTER_KEY_ID, 'local' when unset): a new key needs a new id",
      ],
      [
        {
          MYELIN_MASTER_KEY: current,
          MYELIN_MASTER_KEY_ID: 'k2',
          MYELIN_PREVIOUS_MASTER_KEYS: `local:${current}`,
        },
        "MYELIN_PREVIOUS_MASTER_KEYS, entry 1 of 1: key 'local' is the same key as MYELIN_MASTER_KEY",
      ],
      [
        {
          MYELIN_MASTER_KEY: current,
          MYELIN_MASTER_KEY_ID: 'k3',
          MYELIN_PREVIOUS_MASTER_KEYS: `k1:${old},k2:${old}`,
        },
        "MYELIN_PREVIOUS_MASTER_KEYS, entry 2 of 2: key 'k2' is entry 1's key too",
      ],
      [
        { MYELIN_MASTER_KEY: current, MYELIN_MASTER_KEY_ID: current },
        "MYELIN_MASTER_KEY_ID is 1 to 32 letters, digits, '.', '_' or '-'",
      ],
    ];
    for (const [env, message] of cases) {
      let refusal: unknown;
      try {
        readConfig([], env, dataDir);
      } catch (error) {
        refusal = error;
      }
      expect(refusal, message).toBeInstanceOf(ConfigError);
      const text = (refusal as Error).message;
      expect(text).toContain(message);
      for (const key of [current, old, other, short, unpadded]) expect(text).not.toContain(key);
    }
  });

  it('turns development tokens off with a real issuer, unless DEV_TOKENS=true with a shared secret', () => {
    const secret = { JWT_ISSUER: 'i', JWT_AUDIENCE: 'a', JWT_SECRET: 'a-secret-of-thirty-two-characters!' };
    expect(readConfig([], secret, dataDir).devTokens).toBe(false);
    expect(readConfig([], { ...secret, DEV_TOKENS: 'true' }, dataDir).devTokens).toBe(true);
    expect(readConfig([], { DEV_TOKENS: 'false' }, dataDir).devTokens).toBe(false);
  });

  it('refuses settings that cannot work, saying why', () => {
    const refused = (argv: string[], env: Record<string, string>) => () => readConfig(argv, env, dataDir);
    expect(refused(['--role', 'cook'], {})).toThrow(ConfigError);
    expect(refused(['--role', 'api'], {})).toThrow('needs DATABASE_URL');
    expect(refused([], { PORT: 'eighty' })).toThrow('PORT');
    expect(refused([], { JWT_ISSUER: 'i' })).toThrow('JWT_ISSUER and JWT_AUDIENCE');
    expect(refused([], { JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' })).toThrow('JWT_SECRET');
    expect(refused([], { JWT_ISSUER: 'i', JWT_AUDIENCE: 'a', JWT_SECRET: 'short' })).toThrow('32');
    expect(
      refused([], { JWT_ISSUER: 'i', JWT_AUDIENCE: 'a', JWT_JWKS_URL: 'https://x', DEV_TOKENS: 'true' }),
    ).toThrow('DEV_TOKENS');
    expect(refused([], { NATS_URL: 'nats://x', NATS_PREFIX: 'a.b' })).toThrow('NATS_PREFIX');
    expect(refused([], { LIVE_STREAMS: '0' })).toThrow('LIVE_STREAMS must be a whole number');
    expect(refused([], { LIVE_STREAMS_PER_CLIENT: 'many' })).toThrow('LIVE_STREAMS_PER_CLIENT');
    expect(refused([], { TRUST_PROXY: 'everyone' })).toThrow('TRUST_PROXY');
  });

  it('refuses secrets that are not random and issuer keys over plain HTTP, naming the setting', () => {
    const refused = (env: Record<string, string>) => () => readConfig([], env, dataDir);
    const issuer = { JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' };
    expect(refused({ ...issuer, JWT_SECRET: 'a'.repeat(40) })).toThrow(
      'JWT_SECRET: must be random (openssl rand -base64 32), not a few characters repeated',
    );
    expect(refused({ ...issuer, JWT_JWKS_URL: 'http://id.example/jwks.json' })).toThrow(
      /^JWT_JWKS_URL: must be https:/,
    );
    expect(
      readConfig([], { ...issuer, JWT_JWKS_URL: 'http://127.0.0.1:8080/jwks' }, dataDir).auth,
    ).toMatchObject({
      jwksUrl: 'http://127.0.0.1:8080/jwks',
    });
    const zeroes = Buffer.alloc(32).toString('base64');
    expect(refused({ MYELIN_MASTER_KEY: zeroes })).toThrow(
      'MYELIN_MASTER_KEY: A master key must be random (openssl rand -base64 32): this one has only 1 distinct',
    );
  });

  it('keeps the development logins off the network unless asked for by name', () => {
    const refused = (env: Record<string, string>) => () => readConfig([], env, dataDir);
    for (const HOST of ['0.0.0.0', '::', '192.168.1.20']) {
      expect(refused({ HOST })).toThrow(ConfigError);
      expect(refused({ HOST })).toThrow(`HOST=${HOST} serves other machines, and the development logins`);
      expect(readConfig([], { HOST, DEV_TOKENS: 'true' }, dataDir)).toMatchObject({
        host: HOST,
        devTokens: true,
      });
      expect(readConfig([], { HOST, DEV_TOKENS: 'false' }, dataDir).devTokens).toBe(false);
    }
    for (const HOST of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) {
      expect(readConfig([], { HOST }, dataDir)).toMatchObject({ host: HOST, devTokens: true });
    }
  });

  it('makes the development master key on the first start, readable by its owner alone, and keeps it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pizzeria-master-key-'));
    try {
      const first = keptKey(join(dir, 'data'), developmentMasterKey);
      expect(() => localMasterKey(first)).not.toThrow(); // 32 bytes in base64
      expect(statSync(join(dir, 'data', developmentMasterKey.file)).mode & 0o777).toBe(0o600);
      expect(keptKey(join(dir, 'data'), developmentMasterKey)).toBe(first);
      expect(keptKey(join(dir, 'other'), developmentMasterKey)).not.toBe(first);
      // A damaged key is not replaced (the data sealed under the old one would be lost): the start fails, saying so.
      writeFileSync(join(dir, 'data', developmentMasterKey.file), 'short');
      expect(() => keptKey(join(dir, 'data'), developmentMasterKey)).toThrow(
        /master key of personal data in .* is not 32 bytes in base64/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes the development key on the first start, readable by its owner alone, and keeps it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pizzeria-key-'));
    try {
      const first = developmentAuth(join(dir, 'data'));
      expect(first.secret?.length).toBeGreaterThanOrEqual(32);
      expect(statSync(join(dir, 'data', developmentKeyFile)).mode & 0o777).toBe(0o600);
      expect(developmentAuth(join(dir, 'data')).secret).toBe(first.secret);
      // Another machine (another data directory) has another key: a token of one is refused by the other.
      expect(developmentAuth(join(dir, 'other')).secret).not.toBe(first.secret);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
