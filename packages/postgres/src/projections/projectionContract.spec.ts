import { type ProjectionsUnderTest, projectionContract } from '@myelin/core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Database } from '../database/database.ts';
import { postgresPersistence } from '../postgresPersistence.ts';
import { postgresEventSourcedRepository } from '../repositories/eventSourcedRepository.ts';
import { progressSignal } from '../subscriptions/logSignal.ts';
import { engines, type TestDatabase } from '../testing/databases.ts';
import { postgresProjections } from './postgresProjections.ts';
import { ProjectionDaemon } from './projectionDaemon.ts';
import { projectionLag } from './projectionLag.ts';

/** Until each named projection has one version, active, with nothing left to apply; woken by the daemons. */
async function caughtUp(database: Database, names: readonly string[]): Promise<void> {
  const progress = progressSignal(database);
  for (;;) {
    const seen = progress.generation;
    const lag = (await projectionLag(database)).filter((row) => names.includes(row.name));
    const done = names.every((name) => {
      const versions = lag.filter((row) => row.name === name);
      return versions.length === 1 && versions[0]?.status === 'active' && versions[0].pendingEvents === 0;
    });
    if (done) return;
    // Inline versions that serve report the events their commits applied as pending until the daemon's next
    // batch passes them; the daemon's progress wakes this, and a commit of a case's own wakes the daemon.
    await progress.wait(1000, undefined, seen);
  }
}

describe.each(engines)('the projection contract on $name', (engine) => {
  let test: TestDatabase;
  let subject: ProjectionsUnderTest;
  beforeAll(async () => {
    test = await engine.open();
    subject = {
      persistence: postgresPersistence(test.database),
      eventSourced: (repository, type, options) => postgresEventSourcedRepository(repository, type, options),
      projections: (projections, options) => postgresProjections(projections, options),
      runner: (app) => new ProjectionDaemon(app, test.database, { pollMs: 200, leaseRetryMs: 100 }),
      caughtUp: (_app, names) => caughtUp(test.database, names),
    };
  });
  afterAll(() => test.drop());

  for (const contract of projectionContract()) it(contract.name, () => contract.run(subject));
});
