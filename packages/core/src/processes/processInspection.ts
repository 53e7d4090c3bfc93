// Inspecting process managers: their instances, state and pending timeouts, as a query (`ListProcesses`) that an
// application may authorize for its operators and that the console can show.
import type { ApplicationBuilder } from '../application/application.ts';
import type { Provider } from '../dependencyInjection/container.ts';
import { handler } from '../mediation/handler.ts';
import { query, unchecked } from '../messages/message.ts';
import type { QueryableRepository } from '../persistence/repository.ts';
import { ok } from '../results/operationResult.ts';
import { type ProcessInstance, ProcessInstances, type ProcessRecord } from './processInstance.ts';

/** An instance as an operator sees it. */
export interface ProcessView extends ProcessRecord {
  /** `<process>/<correlation>`. */
  readonly id: string;
  /** Its stored version: how many steps it has taken. */
  readonly version: number;
}

/**
 * Lists process manager instances, most recently changed first: of one process manager, in one status (running
 * by default), one page at a time (`pageSize` at most 200). Persistence registers its handler.
 */
export const ListProcesses = query(
  'myelin.processes.list',
  unchecked<{
    readonly process?: string;
    readonly status?: ProcessRecord['status'];
    readonly page?: number;
    readonly pageSize?: number;
  }>(),
  { description: 'Process manager instances: their state and pending timeouts' },
).returns<{ readonly items: readonly ProcessView[]; readonly total: number }>();

/** Registers the process instances' repository (from the adapter) and the handler of {@link ListProcesses}. */
export function processInspection(repository: Provider<QueryableRepository<ProcessInstance>, any>) {
  return (builder: ApplicationBuilder): void => {
    builder.register(repository).handle(
      handler(ListProcesses, { instances: ProcessInstances }, async (q, { instances }) => {
        const pageSize = Math.min(Math.max(1, Math.trunc(q.pageSize ?? 50)), 200);
        const page = await instances.find({
          where: {
            status: q.status ?? 'running',
            ...(q.process === undefined ? {} : { process: q.process }),
          },
          sort: [{ field: 'updatedAt', direction: 'desc' }],
          page: Math.max(1, Math.trunc(q.page ?? 1)),
          pageSize,
        });
        return ok({
          items: page.items.map((instance: ProcessInstance) => ({
            ...instance.state,
            id: instance.id,
            version: instance.version,
          })),
          total: page.total,
        });
      }),
    );
  };
}
