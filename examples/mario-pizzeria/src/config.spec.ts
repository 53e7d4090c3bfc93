import { describe, expect, it } from 'vitest';
import { developmentAuth } from './api/auth.ts';
import { ConfigError, readConfig } from './config.ts';

const dataDir = '/somewhere/.data';

describe('the configuration', () => {
  it('is embedded mode when nothing is set: PGlite, development users, port 3000 on 127.0.0.1, role all', () => {
    expect(readConfig([], {}, dataDir)).toEqual({
      role: 'all',
      port: 3000,
      host: '127.0.0.1',
      database: { engine: 'pglite', dataDir, schema: 'pizzeria' },
      nats: undefined,
      auth: developmentAuth,
      devTokens: true,
      logLevel: 'warn',
    });
  });

  it('takes PostgreSQL, NATS, a real issuer and a role from the environment and the command line', () => {
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
    });
    expect(readConfig(['--role=projector'], { DATABASE_URL: 'postgres://db' }, dataDir).role).toBe(
      'projector',
    );
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
  });
});
