// Test support (not published): a network of the test's own, to cut. A network namespace joined to this one by a
// veth pair on a /30 of private addresses no route here uses, and a throwaway PostgreSQL cluster listening on the
// host's end only (the server at 127.0.0.1 cannot be reached from inside the namespace, and must not be cut). A
// process started with `exec` runs inside the namespace; `cut` takes its end of the link down, `throttle` squeezes
// what it sends through a trickle (its packets queue, and arrive seconds late), `heal` undoes either. Everything is
// removed by `close`, and by this process's exit if the test never got there. Needs root, `ip`, `tc`, `runuser` and
// PostgreSQL's binaries.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian's PostgreSQL keeps its server binaries (the newest version present). */
const pgBin = ['17', '16', '15', '14']
  .map((v) => `/usr/lib/postgresql/${v}/bin`)
  .find((dir) => existsSync(dir));

export interface NetworkLab {
  /** The namespace's name, for `ip netns exec`. */
  readonly namespace: string;
  /** The cluster, reached from either side of the link (database `postgres`, user `postgres`, trust). */
  readonly url: string;
  /** The command line that runs `argv` inside the namespace. */
  exec(argv: readonly string[]): { readonly command: string; readonly args: string[] };
  /** Takes the namespace's end of the link down: nothing goes either way. */
  cut(): Promise<void>;
  /** Lets what the namespace sends through a trickle only: its packets queue and arrive seconds late, or not at all. */
  throttle(): Promise<void>;
  /** Brings the link back at full speed (what a throttle held is sent at once). */
  heal(): Promise<void>;
  /** Stops and removes the cluster, the namespace and the link. */
  close(): Promise<void>;
}

/** Why this machine cannot make the lab (not root, a tool missing), or undefined when it can. */
export async function labUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces are Linux's, and this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'making network namespaces needs root';
  for (const tool of ['ip', 'tc', 'runuser']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `'${tool}' is not installed`;
    }
  }
  if (pgBin === undefined) return "PostgreSQL's server binaries are not in /usr/lib/postgresql/*/bin";
  const probe = `myelin-probe-${randomBytes(3).toString('hex')}`;
  try {
    await run('ip', ['netns', 'add', probe]);
  } catch (error) {
    return `this machine cannot make a network namespace: ${String(error)}`;
  }
  await run('ip', ['netns', 'del', probe]).catch(() => {});
  return undefined;
}

/** Makes the namespace, the link and the cluster. */
export async function networkLab(): Promise<NetworkLab> {
  const id = randomBytes(3).toString('hex');
  const namespace = `myelin-cut-${id}`;
  const hostLink = `myc${id}h`;
  const innerLink = `myc${id}n`;
  const [hostAddress, innerAddress, subnet] = await freeSubnet();
  const dir = await mkdtemp(join(tmpdir(), 'myelin-cut-'));
  const data = join(dir, 'data');
  let clusterStarted = false;

  const removeSync = () => {
    const quiet = { stdio: 'ignore' as const };
    if (clusterStarted) {
      try {
        execFileSync(
          'runuser',
          ['-u', 'postgres', '--', `${pgBin}/pg_ctl`, '-D', data, '-m', 'immediate', 'stop'],
          quiet,
        );
      } catch {}
    }
    try {
      execFileSync('ip', ['netns', 'del', namespace], quiet);
    } catch {}
    try {
      execFileSync('ip', ['link', 'del', hostLink], quiet);
    } catch {}
    try {
      execFileSync('rm', ['-rf', dir], quiet);
    } catch {}
  };
  process.on('exit', removeSync);

  try {
    await run('ip', ['netns', 'add', namespace]);
    await run('ip', ['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', innerLink]);
    await run('ip', ['link', 'set', innerLink, 'netns', namespace]);
    await run('ip', ['addr', 'add', `${hostAddress}/30`, 'dev', hostLink]);
    await run('ip', ['link', 'set', hostLink, 'up']);
    await run('ip', ['-n', namespace, 'addr', 'add', `${innerAddress}/30`, 'dev', innerLink]);
    await run('ip', ['-n', namespace, 'link', 'set', innerLink, 'up']);
    await run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);

    // The cluster: initdb refuses root, so it and the server run as postgres, in a directory of the test's.
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(uid), Number(gid));
    const asPostgres = (argv: string[]) => run('runuser', ['-u', 'postgres', '--', ...argv]);
    await asPostgres([
      `${pgBin}/initdb`,
      '-D',
      data,
      '-U',
      'postgres',
      '-A',
      'trust',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    const hba = join(data, 'pg_hba.conf');
    await writeFile(hba, `${await readFile(hba, 'utf8')}\nhost all all ${subnet} trust\n`);
    const port = await freePort(hostAddress);
    const settings = {
      listen_addresses: `'${hostAddress}'`,
      port,
      unix_socket_directories: `'${dir}'`,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: 80,
      shared_buffers: '32MB',
    };
    await writeFile(
      join(data, 'postgresql.auto.conf'),
      Object.entries(settings)
        .map(([name, value]) => `${name} = ${value}`)
        .join('\n'),
    );
    clusterStarted = true;
    await asPostgres([
      `${pgBin}/pg_ctl`,
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);

    const tc = (args: string[]) => run('ip', ['netns', 'exec', namespace, 'tc', ...args]);
    let throttled = false;
    return {
      namespace,
      url: `postgres://postgres@${hostAddress}:${port}/postgres`,
      exec: (argv) => ({ command: 'ip', args: ['netns', 'exec', namespace, ...argv] }),
      async cut() {
        await run('ip', ['-n', namespace, 'link', 'set', innerLink, 'down']);
      },
      async throttle() {
        // A token bucket of 8 kbit/s whose queue holds 3 s of it: the namespace sends more than that (its
        // acknowledgements of every notification alone), so its packets soon wait seconds, and beyond the queue
        // are dropped (and sent again by TCP).
        await tc([
          'qdisc',
          'add',
          'dev',
          innerLink,
          'root',
          'tbf',
          'rate',
          '8kbit',
          'burst',
          '1540',
          'latency',
          '3s',
        ]);
        throttled = true;
      },
      async heal() {
        if (throttled) {
          // Changed, not removed: what waits in the queue goes out now, late, rather than being dropped.
          await tc([
            'qdisc',
            'change',
            'dev',
            innerLink,
            'root',
            'tbf',
            'rate',
            '10gbit',
            'burst',
            '1mb',
            'latency',
            '3s',
          ]);
          await tc(['qdisc', 'del', 'dev', innerLink, 'root']);
          throttled = false;
        }
        await run('ip', ['-n', namespace, 'link', 'set', innerLink, 'up']);
      },
      async close() {
        process.off('exit', removeSync);
        if (clusterStarted) {
          await asPostgres([`${pgBin}/pg_ctl`, '-D', data, '-m', 'immediate', 'stop']).catch(() => {});
        }
        await run('ip', ['netns', 'del', namespace]).catch(() => {});
        await run('ip', ['link', 'del', hostLink]).catch(() => {}); // gone with its peer, normally
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    process.off('exit', removeSync);
    removeSync();
    throw error;
  }
}

/** A port nobody listens on at `address` now. */
function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A /30 in 10.0.0.0/8 that no address or route of this machine covers: host end, namespace end, and the subnet. */
async function freeSubnet(): Promise<[string, string, string]> {
  const { stdout } = await run('ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
  const { stdout: addresses } = await run('ip', ['-4', '-o', 'addr', 'show']);
  const taken = [...`${stdout}\n${addresses}`.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)].map(
    ([, address, bits]) => [toNumber(address as string), Number(bits ?? 32)] as const,
  );
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = (10 << 24) | (randomBytes(3).readUIntBE(0, 3) & 0xfffffc);
    const clash = taken.some(([address, bits]) => {
      const shared = Math.min(bits, 30);
      const mask = shared === 0 ? 0 : (0xffffffff << (32 - shared)) >>> 0;
      return (address & mask) >>> 0 === (base & mask) >>> 0;
    });
    if (!clash) return [toAddress(base + 1), toAddress(base + 2), `${toAddress(base)}/30`];
  }
  throw new Error('no free /30 in 10.0.0.0/8');
}

function toNumber(address: string): number {
  return address.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}

function toAddress(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}
