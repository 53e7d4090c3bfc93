import { type Behavior, BehaviorOrder, behavior } from '../mediation/behavior.ts';
import { isConcurrencyError } from '../persistence/repository.ts';
import { UnitOfWork } from '../persistence/unitOfWork.ts';
import { conflict } from '../results/operationResult.ts';

/**
 * Makes each command one unit of work: commit when the handler succeeds, roll back when it returns a failure or
 * throws. A concurrent change detected at commit becomes a 409 Conflict result. Persistence modules register it.
 */
export function unitOfWork(): Behavior {
  return behavior(
    {
      name: 'unitOfWork',
      order: BehaviorOrder.unitOfWork,
      scope: 'commands',
      dependencies: { work: UnitOfWork },
    },
    async (_message, next, _context, { work }) => {
      let result: Awaited<ReturnType<typeof next>>;
      try {
        result = await next();
      } catch (error) {
        await work.rollback();
        throw error;
      }
      if (!result.ok) {
        await work.rollback();
        return result;
      }
      try {
        await work.commit();
      } catch (error) {
        if (!isConcurrencyError(error)) throw error;
        await work.rollback();
        return conflict(error.message, {
          extensions: { expectedVersion: error.expectedVersion, actualVersion: error.actualVersion ?? null },
        });
      }
      return result;
    },
  );
}
