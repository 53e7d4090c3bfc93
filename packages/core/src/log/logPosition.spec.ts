import { describe, expect, it } from 'vitest';
import { comparePositions, isLogPosition, logPosition } from './logPosition.ts';

describe('a log position', () => {
  it('is well formed only as two decimal numbers a store can hold, without leading zeros', () => {
    for (const good of ['0.0', '1234.0', '18446744073709551615.9223372036854775807']) {
      expect(isLogPosition(good), good).toBe(true);
    }
    for (const bad of [
      '18446744073709551616.0', // past a transaction id's 64 bits
      '1.9223372036854775808', // past a sequence's signed 64 bits
      `${'9'.repeat(400)}.0`,
      '01.0',
      '1.',
      '.1',
      '1.2.3',
      '-1.0',
      ' 1.0',
      '1.0\u0000',
      1.5,
      undefined,
    ]) {
      expect(isLogPosition(bad), String(bad)).toBe(false);
    }
  });

  it('compares exactly at any size', () => {
    const big = logPosition('18446744073709551615', 1);
    expect(comparePositions(big, logPosition('9223372036854775807', 1))).toBeGreaterThan(0);
    expect(comparePositions(logPosition(2, 10), logPosition(2, 9))).toBeGreaterThan(0);
    expect(comparePositions(logPosition(2, 9), logPosition(2, 9))).toBe(0);
  });
});
