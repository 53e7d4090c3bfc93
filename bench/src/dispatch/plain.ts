// The baselines: no library, just functions.
import { ok, type Success } from '@myelin/core';
import type { Case } from '../harness.ts';

interface Increment {
  readonly a: number;
}

/** The handler every case runs, written here once for the plain cases (each file has its own copy, see README). */
const handle = async (command: Increment): Promise<Success<number>> => ok(command.a + 1);

type Next = () => Promise<Success<number>>;
type Middleware = (message: Increment, next: Next) => Promise<Success<number>>;

// Pass-through middleware, written exactly as the Myelin behaviors of the `myelin3` case are.
const first: Middleware = (_message, next) => next();
const second: Middleware = (_message, next) => next();
const third: Middleware = (_message, next) => next();

/** Three middlewares around the handler, composed by hand: a new `next` closure per layer and per call. */
const composed = (message: Increment): Promise<Success<number>> =>
  first(message, () => second(message, () => third(message, () => handle(message))));

export const direct: Case = {
  name: 'direct',
  async batch(iterations) {
    let sum = 0;
    for (let i = 0; i < iterations; i++) sum += (await handle({ a: i })).data;
    return sum;
  },
};

export const handComposed3: Case = {
  name: 'handComposed3',
  async batch(iterations) {
    let sum = 0;
    for (let i = 0; i < iterations; i++) sum += (await composed({ a: i })).data;
    return sum;
  },
};

/** One call of each, for the correctness check. */
export const once = {
  direct: (a: number) => handle({ a }),
  handComposed3: (a: number) => composed({ a }),
};
