// The rewrap a projector runs at its start, on PGlite beside the running pizzeria: what it says in the log for each
// outcome (counts and ids, never a key), and that a failure is said and survived, not thrown.
import { type Logger, localMasterKey, type MasterKeyOptions, newMasterKey } from '@myelin/core';
import { describe, expect, it } from 'vitest';
import { rewrapAtStart, rewrapOutcome } from './masterKeys.ts';
import { PlaceOrder } from './orders/contract.ts';
import { testPizzeria } from './testing/testPizzeria.ts';

/** A logger that keeps what it is told, by level. */
function keptLog() {
  const lines: { level: string; fields: object; message: string }[] = [];
  const at =
    (level: string) =>
    (fields: object, message = '') =>
      lines.push({ level, fields, message });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

describe('the rewrap at start', () => {
  it('rewraps under the new key, says so, then says nothing once there is nothing to say', async () => {
    const [secretA, secretB] = [newMasterKey(), newMasterKey()];
    const keyA = localMasterKey(secretA);
    const keyB = localMasterKey(secretB, 'k2');
    await using pizzeria = await testPizzeria({ masterKey: keyA });
    const placed = await pizzeria.app.mediator.execute(
      new PlaceOrder({
        customerName: 'Toad',
        customerPhone: '555 0101',
        pizzas: [{ name: 'margherita', size: 'small', toppings: [] }],
      }),
    );
    expect(placed.ok).toBe(true);
    const run = async (keys: MasterKeyOptions) => {
      const { logger, lines } = keptLog();
      await rewrapAtStart(pizzeria.database, keys, logger).finished;
      return lines;
    };

    // The right id with the wrong key: said, with what to check, and survived.
    const wrong = await run({ masterKey: keyB, previousMasterKeys: [localMasterKey(newMasterKey())] });
    expect(wrong).toEqual([
      {
        level: 'error',
        fields: expect.objectContaining({ masterKey: 'k2' }),
        message: expect.stringContaining(
          'the rewrap of the data keys failed, the process goes on with the keys it is given: a previous master key did not open a data key that records its id',
        ),
      },
    ]);

    const rotated = await run({ masterKey: keyB, previousMasterKeys: [keyA] });
    expect(rotated).toEqual([
      {
        level: 'info',
        fields: { rewrapped: 1, left: 0, unknown: 0, unknownMasterKeys: [], masterKey: 'k2' },
        message:
          "rewrapped 1 data key under master key 'k2'; none is left under 'local': drop them from MYELIN_PREVIOUS_MASTER_KEYS, and keep them in your secret store as long as the backups taken before",
      },
    ]);
    expect(await run({ masterKey: keyB })).toEqual([]);
    // The old key alone, after the rotation: the data key it lacks is named.
    const missing = await run({ masterKey: keyA });
    expect(missing).toEqual([
      {
        level: 'error',
        fields: { rewrapped: 0, left: 0, unknown: 1, unknownMasterKeys: ['k2'], masterKey: 'local' },
        message: expect.stringContaining(
          "1 data key is wrapped by master key 'k2', which this process is not given: the personal data they protect cannot be read",
        ),
      },
    ]);
    for (const line of [...wrong, ...rotated, ...missing]) {
      const text = JSON.stringify(line);
      for (const secret of [secretA, secretB]) expect(text).not.toContain(secret);
    }
  });

  it('does not say to drop a previous key that nothing was under, as in a rolling deploy’s first step', () => {
    // The new key given as a previous one, while the processes still wrap new data keys with the old one.
    const keys = {
      masterKey: localMasterKey(newMasterKey()),
      previousMasterKeys: [localMasterKey(newMasterKey(), 'k2')],
    };
    const outcome = rewrapOutcome(keys, { rewrapped: 0, left: 0, unknown: 0, unknownMasterKeys: [] });
    expect(outcome).toEqual({
      verdict: 'done',
      message: "every data key is under master key 'local'; none is under 'k2'",
    });
  });

  it('asks for another run when data keys are left under a previous key', () => {
    const keys = {
      masterKey: localMasterKey(newMasterKey(), 'k2'),
      previousMasterKeys: [localMasterKey(newMasterKey())],
    };
    expect(rewrapOutcome(keys, { rewrapped: 5, left: 2, unknown: 0, unknownMasterKeys: [] })).toEqual({
      verdict: 'again',
      message: expect.stringContaining(
        "rewrapped 5 data keys under master key 'k2'; 2 data keys are still under 'local' (held by an erasure or another rewrap, or made since by a process still on the old key): rewrap again",
      ),
    });
  });
});
