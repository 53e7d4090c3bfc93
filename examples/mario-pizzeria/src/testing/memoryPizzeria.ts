// Test support (not a spec): the pizzeria in memory, with its projections running and its menu seeded. What
// handler tests use: no database, no network, the same handlers and read models as production.
import { type Application, EventStore } from '@myelin/core';
import { InMemoryDatabase, InMemoryProjectionDaemon } from '@myelin/core/memory';
import { SeedMenu } from '../menu/contract.ts';
import { buildPizzeria, type PizzeriaOptions } from '../pizzeria.ts';
import { systemPrincipal } from '../shared/roles.ts';
import { memoryStorage } from '../storage.ts';

export interface MemoryPizzeria extends AsyncDisposable {
  readonly app: Application;
  readonly database: InMemoryDatabase;
  readonly events: EventStore;
  readonly daemon: InMemoryProjectionDaemon;
}

export async function memoryPizzeria(options: PizzeriaOptions = {}): Promise<MemoryPizzeria> {
  const database = new InMemoryDatabase();
  const app = await buildPizzeria(memoryStorage(database, { readYourWritesTimeoutMs: 5000 }), options);
  const daemon = new InMemoryProjectionDaemon(app).start();
  await daemon.caughtUp();
  const seeded = await app.mediator.execute(new SeedMenu({}), { principal: systemPrincipal });
  if (!seeded.ok) throw new Error(`seeding failed: ${seeded.problem.detail}`);
  return {
    app,
    database,
    events: app.container.root.resolve(EventStore),
    daemon,
    async [Symbol.asyncDispose]() {
      await daemon.stop();
      await app.dispose();
    },
  };
}
