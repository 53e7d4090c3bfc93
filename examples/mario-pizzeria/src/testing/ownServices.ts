// Test support (not a spec): a PostgreSQL cluster and a NATS server of the test's own, in temporary folders on
// free ports, that a fault test may stop, start, freeze and thaw without touching the machine's shared ones.
// Their binaries come from Debian's packages (postgresql, nats-server), which CI installs; a missing one fails.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Stops (SIGSTOP) or resumes (SIGCONT) processes: a freeze, as a stuck disk or a paused VM looks from outside. */
function signalAll(pids: readonly number[], signal: 'SIGSTOP' | 'SIGCONT'): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

export interface OwnService extends AsyncDisposable {
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  freeze(): void;
  thaw(): void;
}

/** The newest PostgreSQL server binaries Debian installed. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] === undefined) {
    throw new Error(`no PostgreSQL server under ${root}: install Debian's postgresql package`);
  }
  return join(root, versions[0], 'bin');
}

/**
 * A PostgreSQL cluster of its own (initdb into a temporary folder, trust authentication, its own port and socket
 * folder). PostgreSQL refuses to run as root: as root, it runs as the `postgres` user.
 */
export async function ownPostgres(): Promise<OwnService> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'myelin-own-postgres-'));
  const asRoot = userInfo().uid === 0;
  const run = (command: string, args: readonly string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], { stdio: 'pipe' })
      : execFileSync(join(bin, command), args, { stdio: 'pipe' });
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), 0);
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '--auth=trust', '--username=postgres', '--no-sync', '--encoding=UTF8']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = async () => {
    run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  };
  const stop = async () => {
    run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  };
  /** The postmaster and every process it started. */
  const processes = (): number[] => {
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
    return [postmaster, ...children];
  };
  let frozen: number[] = [];
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    freeze() {
      frozen = processes();
      signalAll(frozen, 'SIGSTOP');
    },
    thaw() {
      signalAll(frozen, 'SIGCONT');
      frozen = [];
    },
    async [Symbol.asyncDispose]() {
      signalAll(frozen, 'SIGCONT');
      try {
        await stop();
      } catch {
        // stopped already
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A nats-server with JetStream of its own: its own port and storage folder, kept across a restart. */
export async function ownNats(): Promise<OwnService> {
  const binary = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(
    existsSync,
  );
  if (binary === undefined) throw new Error("no nats-server: install Debian's nats-server package");
  const dir = mkdtempSync(join(tmpdir(), 'myelin-own-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = started;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      started.stderr?.setEncoding('utf8');
      started.stderr?.on('data', (chunk: string) => {
        log += chunk;
        if (log.includes('Server is ready')) resolve();
      });
      started.once('exit', (code) => reject(new Error(`nats-server exited (${code}):\n${log}`)));
    });
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGCONT');
    running.kill('SIGKILL'); // as a crash: nothing flushed on the way out
    await exited;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    start,
    stop,
    freeze: () => signalAll(child?.pid === undefined ? [] : [child.pid], 'SIGSTOP'),
    thaw: () => signalAll(child?.pid === undefined ? [] : [child.pid], 'SIGCONT'),
    async [Symbol.asyncDispose]() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
