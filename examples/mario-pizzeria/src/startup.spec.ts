import { getEventListeners } from 'node:events';
import { UnavailableError } from '@myelin/core';
import { describe, expect, it } from 'vitest';
import { GaveUpWaitingError, untilAvailable } from './startup.ts';

const down = () => Promise.reject(new UnavailableError('the server is down'));
const quick = { log: () => {}, minMs: 1, maxMs: 1 };

describe('untilAvailable', () => {
  it('tries again while the error may pass, and answers what the attempt gave once it does', async () => {
    const lines: string[] = [];
    let tries = 0;
    const answer = await untilAvailable('the server', async () => (++tries < 3 ? down() : 'up'), {
      ...quick,
      log: (line) => lines.push(line),
    });
    expect(answer).toBe('up');
    expect(tries).toBe(3);
    expect(lines).toEqual([
      expect.stringContaining('waiting for the server (attempt 1, next in 0.001 s): the server is down'),
      expect.stringContaining('waiting for the server (attempt 2, next in 0.001 s): the server is down'),
    ]);
  });

  it('gives up when its signal aborts, saying why the last attempt failed', async () => {
    const stopping = new AbortController();
    let tries = 0;
    const waiting = untilAvailable(
      'the server',
      () => {
        if (++tries === 20) stopping.abort();
        return down();
      },
      { ...quick, signal: stopping.signal },
    );
    const error = await waiting.catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(GaveUpWaitingError);
    expect((error as Error).message).toBe(
      'the server did not answer before the waiting was given up: the server is down',
    );
    expect((error as Error).cause).toBeInstanceOf(UnavailableError);
    // Each retry's timer took its abort listener with it: none is left on a signal that outlives the waiting.
    expect(getEventListeners(stopping.signal, 'abort')).toHaveLength(0);
  });

  it('leaves no listener behind on a signal that never aborts, however many times it retried', async () => {
    const process = new AbortController();
    let tries = 0;
    await untilAvailable('the server', async () => (++tries < 50 ? down() : 'up'), {
      ...quick,
      signal: process.signal,
    });
    expect(getEventListeners(process.signal, 'abort')).toHaveLength(0);
  });

  it('throws a mistake as it is, even after its signal aborted: a refused password is not "did not answer"', async () => {
    const stopping = new AbortController();
    stopping.abort();
    const refused = new Error('password authentication failed for user "pizzeria"');
    await expect(
      untilAvailable('the server', () => Promise.reject(refused), { ...quick, signal: stopping.signal }),
    ).rejects.toBe(refused);
  });
});
