import { describe, expect, it } from 'vitest';
import { InvalidPriceError } from '../domain/domainErrors.ts';
import { problemOf } from './domainProblems.ts';

describe('problemOf', () => {
  it("names basePrice when the domain refuses a pizza's price, as a validation error would", () => {
    const failure = problemOf(new InvalidPriceError(0));
    expect(failure.problem).toMatchObject({
      status: 400,
      errors: [{ field: 'basePrice', pointer: '#/basePrice', detail: expect.stringContaining('0 cents') }],
    });
  });
});
