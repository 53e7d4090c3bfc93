// A child process serving one side (`myelin` or `raw`) on a free port of 127.0.0.1. It tells its parent the
// address over IPC once it listens, answers 'cpu' with the CPU time it has used so far, and closes (the server,
// its pool) when the parent sends 'stop' or goes away.
import type { FastifyInstance } from 'fastify';

export type ServerName = 'myelin' | 'raw';

/** What the child sends its parent. */
export type ServerMessage =
  | { readonly listening: string }
  | { readonly failed: string }
  /** User and system CPU time of the process so far, in microseconds. */
  | { readonly cpuMicros: number };

const name = process.argv[2];

async function create(): Promise<FastifyInstance> {
  if (name === 'myelin') return (await import('./myelin.ts')).createMyelinServer();
  if (name === 'raw') return (await import('./raw.ts')).createRawServer();
  throw new Error(`http server: unknown side '${name}' (myelin or raw)`);
}

const send = (message: ServerMessage) => process.send?.(message);

try {
  const server = await create();
  const address = await server.listen({ port: 0, host: '127.0.0.1' });
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`http server (${name}): closing failed`, error);
        process.exit(1);
      },
    );
  };
  process.on('message', (message) => {
    if (message === 'stop') close();
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ cpuMicros: user + system });
    }
  });
  process.on('disconnect', close);
  send({ listening: address });
} catch (error) {
  send({ failed: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
}
