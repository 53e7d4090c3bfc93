// Test support (not published): what a child process says on stdout, line by line, for a test that waits on it.
import { type ChildProcess, spawn } from 'node:child_process';

/**
 * Another process running `script`, the text of an ES module that may import the project's TypeScript sources,
 * with `env` added to this one's environment: a second process of a test (a lease holder, a partition member).
 */
export function moduleProcess(script: string, env: Readonly<Record<string, string>>): ChildProcess {
  return spawn(process.execPath, ['--conditions=@myelin/source', '--input-type=module', '--eval', script], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}

export interface ChildLines {
  /** Every line said so far. */
  readonly seen: readonly string[];
  /**
   * The first line (said already, or to come) that `match` accepts. Fails if the process exits first, or says no
   * such line within `ms` (a bound for a hang only; the line is the signal).
   */
  line(match: (line: string) => boolean, ms?: number): Promise<string>;
  /** Settles when the process has exited. */
  readonly exited: Promise<void>;
}

/** Follows `child`'s stdout (and keeps its stderr, to say why it exited); `name` names it in errors. */
export function childLines(child: ChildProcess, name: string): ChildLines {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const seen: string[] = [];
  const waiting = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>();
  let rest = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      seen.push(line);
      for (const waiter of [...waiting]) {
        if (waiter.match(line)) {
          waiting.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  });
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const gone = exited.then(() => {
    throw new Error(`${name} exited: ${stderr}`);
  });
  gone.catch(() => {});
  return {
    seen,
    exited,
    line(match, ms = 30_000) {
      const found = seen.find(match);
      if (found !== undefined) return Promise.resolve(found);
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        new Promise<string>((resolve) => waiting.add({ match, resolve })),
        gone,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${name} said no such line in ${ms} ms; it said:\n${seen.join('\n')}`)),
            ms,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    },
  };
}
