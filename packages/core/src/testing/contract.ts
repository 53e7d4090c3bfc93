import { structurallyEqual } from '../domain/valueObject.ts';
import { SpecificationError } from './aggregateSpec.ts';

/**
 * One case of a contract suite: what every adapter of a port must do. Suites are plain lists, so any test runner
 * can run them: `for (const c of eventStoreContract()) it(c.name, () => c.run(subject))`.
 */
export interface ContractCase<TSubject> {
  readonly name: string;
  run(subject: TSubject): Promise<void>;
}

/** @internal Throws a {@link SpecificationError} naming what differed. */
export function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (!structurallyEqual(actual, expected)) {
    throw new SpecificationError(`${what}: expected ${show(expected)} but got ${show(actual)}`);
  }
}

/** @internal Awaits `action` and checks it rejected with an error satisfying `matches`. */
export async function expectRejection(
  action: () => Promise<unknown>,
  matches: (error: unknown) => boolean,
  what: string,
): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    if (!matches(error))
      throw new SpecificationError(`${what}: rejected with the wrong error: ${String(error)}`);
    return error;
  }
  throw new SpecificationError(`${what}: expected a rejection, but it resolved`);
}

/** @internal A random suffix, so cases sharing one database do not see each other's streams and documents. */
export function uniqueName(prefix: string): string {
  return `${prefix}${crypto.randomUUID().slice(0, 8)}`;
}

function show(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v === undefined ? '<undefined>' : v));
}
