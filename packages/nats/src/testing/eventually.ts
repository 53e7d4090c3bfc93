// Test support (not published): waiting on a condition that background work (a consumer, a redelivery) makes true.
// The same as @myelin/postgres's: adapters do not import each other, and core's testing exports none yet.

/**
 * Resolves once `check` holds, asking every 20 ms; fails after `ms` with what was awaited (a description, or what
 * `what` returns then). A bound only for what can truly hang: the check, not a sleep, is what the test waits on.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string | (() => unknown),
  ms = 15_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(
        `not reached in ${ms} ms: ${typeof what === 'string' ? what : `saw ${JSON.stringify(what())}`}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
