import type { Application, ReadinessCheck } from '@myelin/core';
import type { FastifyInstance } from 'fastify';

export interface HealthOptions {
  /** What `/ready` checks (see `@myelin/postgres`'s `postgresReadiness`). */
  readonly checks?: readonly ReadinessCheck[];
  /** A check that takes longer than this fails; defaults to 2 s. */
  readonly timeoutMs?: number;
}

/**
 * `/health`: the process is alive and serving (200). `/ready`: every readiness check passes (200), or which do
 * not (503); a load balancer sends traffic only to a ready process, and a stopping one turns unready at once.
 */
export function registerHealth(fastify: FastifyInstance, _app: Application, options: HealthOptions): void {
  const timeoutMs = options.timeoutMs ?? 2000;
  let stopping = false;
  fastify.addHook('preClose', async () => {
    stopping = true;
  });
  fastify.get('/health', async (_request, reply) =>
    reply.header('cache-control', 'no-store').send({ status: 'ok' }),
  );
  fastify.get('/ready', async (_request, reply) => {
    const checks = await Promise.all(
      (options.checks ?? []).map(async ({ name, check }) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const outcome = await Promise.race([
            check(),
            new Promise<{ ok: boolean; detail: string }>((resolve) => {
              timer = setTimeout(
                () => resolve({ ok: false, detail: `no answer in ${timeoutMs} ms` }),
                timeoutMs,
              );
            }),
          ]);
          return { name, ...outcome };
        } catch (error) {
          return { name, ok: false, detail: error instanceof Error ? error.message : String(error) };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const ready = !stopping && checks.every((c) => c.ok);
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : stopping ? 'stopping' : 'unready', checks });
  });
}
