// Test support: the pizzeria as a deployment runs it, as operating-system processes started the way `npm start`
// starts one, on PostgreSQL and NATS JetStream (a schema and streams of the run's own).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { newMasterKey } from '@myelin/core';
import { postgresDatabase } from '@myelin/postgres/pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { SignJWT } from 'jose';

export const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const natsUrl = process.env.NATS_URL ?? '127.0.0.1:4222';
const exampleDir = fileURLToPath(new URL('../..', import.meta.url));

/** The real services are required: a missing one fails the test (in CI and everywhere), it never skips. */
export async function requireServices(): Promise<void> {
  const database = postgresDatabase({ connectionString: databaseUrl, schema: 'public', max: 1 });
  try {
    await database.query('SELECT 1');
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${databaseUrl} (set DATABASE_URL): ${String(error)}`);
  } finally {
    await database.close();
  }
  try {
    await (await connect({ servers: natsUrl, timeout: 5000 })).close();
  } catch (error) {
    throw new Error(`NATS is not reachable at ${natsUrl} (set NATS_URL): ${String(error)}`);
  }
}

export type Role = 'api' | 'projector' | 'all';

export interface Started {
  readonly role: Role;
  readonly child: ChildProcess;
  readonly output: () => string;
  /** The first line matching, once the process prints it. */
  readonly line: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
}

/** One run of the pizzeria's processes: its schema, its NATS streams, its token issuer and the processes started. */
export class PizzeriaRun {
  readonly id = crypto.randomUUID().replaceAll('-', '').slice(0, 10);
  readonly schema = `pizzeria_test_${this.id}`;
  readonly natsPrefix = `pizzeria_test_${this.id}`;
  readonly stream = `${this.natsPrefix.toUpperCase()}_EVENTS`;
  /** This run's token issuer: a secret made for it, as a deployment's identity provider would hold one. */
  readonly issuer = {
    JWT_ISSUER: 'https://id.pizzeria.test',
    JWT_AUDIENCE: 'pizzeria',
    JWT_SECRET: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url'),
  };
  /** The environment of a production process of this run. */
  readonly production: Record<string, string> = {
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: this.schema,
    NATS_URL: natsUrl,
    NATS_PREFIX: this.natsPrefix,
    ...this.issuer,
    // Every process of a deployment has the same master key (from its secret store).
    MYELIN_MASTER_KEY: newMasterKey(),
  };
  readonly processes: Started[] = [];

  /** A token of this run's issuer, as a signed-in user with this role would hold one (its subject the role's name). */
  tokenFor(role: string, subject = role): Promise<string> {
    return new SignJWT({ roles: [role] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject)
      .setIssuer(this.issuer.JWT_ISSUER)
      .setAudience(this.issuer.JWT_AUDIENCE)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(this.issuer.JWT_SECRET));
  }

  /** Starts `src/main.ts` with a role, as `npm start` does (through npx, so on the repository's Node). */
  start(role: Role, env: Record<string, string> = this.production): Started {
    const { DATABASE_URL: _url, NATS_URL: _nats, ...inherited } = process.env;
    const child = spawn('npx', ['node', '--conditions=@myelin/source', 'src/main.ts', '--role', role], {
      cwd: exampleDir,
      // Loopback whatever the shell exports (tcsh sets HOST to the machine's name), unless the test says otherwise.
      env: { ...inherited, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...env },
      // Its own process group: stopping it stops npx and the node it started, together.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const started: Started = {
      role,
      child,
      output: () => output,
      async line(pattern, timeoutMs = 60_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const match = output.match(pattern);
          if (match !== null) return match;
          if (child.exitCode !== null) throw new Error(`${role} exited (${child.exitCode}):\n${output}`);
          if (Date.now() > deadline)
            throw new Error(`${role} printed no ${pattern} in ${timeoutMs} ms:\n${output}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
    };
    this.processes.push(started);
    return started;
  }

  /** Drops the run's schema and NATS streams (its processes stopped first). */
  async cleanUp(): Promise<void> {
    await Promise.all(this.processes.map((started) => stop(started)));
    const database = postgresDatabase({ connectionString: databaseUrl, schema: this.schema, max: 1 });
    await database.exec(`DROP SCHEMA IF EXISTS ${database.schema} CASCADE`);
    await database.close();
    const nats = await connect({ servers: natsUrl });
    const jsm = await jetstreamManager(nats);
    for (const name of [this.stream, `${this.stream}_DEAD`])
      await jsm.streams.delete(name).catch(() => false);
    await nats.close();
  }
}

/** Whether any process of the group is still there. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM to the group (a graceful stop), SIGKILL if it takes too long; or SIGKILL at once (`crash`), as a machine
 * that dies would. npx dies of the signal at once; the node it started shuts down gracefully (requests, workers,
 * database), so the wait is for the whole group to be gone.
 */
export async function stop(started: Started, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
  const pid = started.child.pid;
  if (pid === undefined || !groupAlive(pid)) return;
  process.kill(-pid, signal);
  const deadline = Date.now() + 10_000;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) process.kill(-pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (!response.ok) throw new Error(`${response.status}: ${text}`);
  return JSON.parse(text) as T;
}
