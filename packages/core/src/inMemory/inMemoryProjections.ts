import type { ApplicationBuilder } from '../application/application.ts';
import type { Token } from '../dependencyInjection/token.ts';
import type { LogPosition } from '../log/logPosition.ts';
import { positionParts } from '../log/logPosition.ts';
import { ExecutionContext } from '../mediation/executionContext.ts';
import { checkUnique, type Projection, RegisteredProjections } from '../projections/projection.ts';
import type { InMemoryDatabase } from './inMemoryDatabase.ts';
import { InMemoryDatabaseToken } from './inMemoryUnitOfWork.ts';

export interface InMemoryProjectionsOptions {
  /** How long a query asking to read its writes waits for an async read model; defaults to 2000 ms. */
  readonly readYourWritesTimeoutMs?: number;
}

/**
 * Registers projections with an application on `inMemoryPersistence`, with the semantics of `postgresProjections`:
 * each version is recorded at build; inline ones are written in the commit of the events they handle (a failing
 * one fails the commit); each read model becomes the token its query handlers depend on. Async ones, and new
 * versions of inline ones, are run by an {@link InMemoryProjectionDaemon}.
 * @example createApplication().include(inMemoryPersistence(), inMemoryProjections([orderSummaries]))
 */
export function inMemoryProjections(
  projections: readonly Projection[],
  options: InMemoryProjectionsOptions = {},
) {
  checkUnique(projections);
  const timeoutMs = options.readYourWritesTimeoutMs ?? 2000;
  return (builder: ApplicationBuilder): void => {
    builder.singleton(RegisteredProjections, { database: InMemoryDatabaseToken }, async ({ database }) => {
      await database.exclusive(() => {
        for (const p of projections) database.readModels.register(p, database.log);
      });
      return projections;
    });
    for (const p of projections) {
      builder.scoped(
        p.model as Token<unknown>,
        { database: InMemoryDatabaseToken, context: ExecutionContext, registered: RegisteredProjections },
        ({ database, context }): unknown =>
          database.readModels.reader(p.name, p.model, () =>
            readYourWrites(database, p.name, context.minPosition, timeoutMs, context.signal),
          ),
      );
    }
  };
}

/**
 * Waits (bounded by `timeoutMs`) until the read model serving `name` has applied the log up to `position`, woken
 * by the runner's progress. A position no commit has reached yet is answered at once: waiting would be in vain.
 */
async function readYourWrites(
  database: InMemoryDatabase,
  name: string,
  position: LogPosition | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  if (position === undefined) return;
  if (BigInt(positionParts(position).transaction) > BigInt(database.transactions)) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = database.generation;
    if (database.readModels.caughtUp(name, position)) return;
    const left = deadline - Date.now();
    if (left <= 0 || signal.aborted) return; // bounded: then read what is there
    await database.waitForChange(seen, left, signal);
  }
}
