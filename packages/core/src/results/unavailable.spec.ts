import { describe, expect, it } from 'vitest';
import { isUnavailable, UnavailableError } from './unavailable.ts';

describe('UnavailableError', () => {
  it('says when to retry, one second unless told', () => {
    expect(new UnavailableError('down').retryAfterSeconds).toBe(1);
    expect(new UnavailableError('down', { retryAfterSeconds: 5 }).retryAfterSeconds).toBe(5);
  });

  it('is recognised by name and shape, also when thrown by another copy of core', () => {
    const foreign = Object.assign(new Error('down'), { name: 'UnavailableError', retryAfterSeconds: 2 });
    expect(isUnavailable(new UnavailableError('down'))).toBe(true);
    expect(isUnavailable(foreign)).toBe(true);
    expect(isUnavailable(new Error('down'))).toBe(false);
    expect(isUnavailable(Object.assign(new Error('x'), { name: 'UnavailableError' }))).toBe(false);
  });
});
