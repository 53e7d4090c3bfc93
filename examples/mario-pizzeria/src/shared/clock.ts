import { token } from '@myelin/core';

/** What time it is. A service rather than `new Date()` in handlers, so that tests can stop the clock. */
export const Clock = token<() => Date>('Clock');
