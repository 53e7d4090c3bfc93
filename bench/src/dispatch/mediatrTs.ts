// mediatr-ts: Mediator.send with three pass-through pipeline behaviors.
//
// Its decorators are plain functions that record the class in mediatr-ts's (global) mappings, so they are applied
// as functions: what `@requestHandler(IncrementRequest)` and `@pipelineBehavior()` compile to.
import { ok, type Success } from '@myelin/core';
import {
  Mediator,
  type PipelineBehavior,
  pipelineBehavior,
  RequestData,
  type RequestHandler,
  requestHandler,
} from 'mediatr-ts';
import type { Case } from '../harness.ts';

class IncrementRequest extends RequestData<Success<number>> {
  readonly a: number;
  constructor(a: number) {
    super();
    this.a = a;
  }
}

const handle = async (request: IncrementRequest): Promise<Success<number>> => ok(request.a + 1);

class IncrementHandler implements RequestHandler<IncrementRequest, Success<number>> {
  handle(request: IncrementRequest): Promise<Success<number>> {
    return handle(request);
  }
}
requestHandler(IncrementRequest)(IncrementHandler);

// Pass-through behaviors, the same body as the other cases' middleware.
class First implements PipelineBehavior {
  handle(_request: RequestData<unknown>, next: () => unknown): Promise<unknown> {
    return next() as Promise<unknown>;
  }
}
class Second implements PipelineBehavior {
  handle(_request: RequestData<unknown>, next: () => unknown): Promise<unknown> {
    return next() as Promise<unknown>;
  }
}
class Third implements PipelineBehavior {
  handle(_request: RequestData<unknown>, next: () => unknown): Promise<unknown> {
    return next() as Promise<unknown>;
  }
}
pipelineBehavior()(First);
pipelineBehavior()(Second);
pipelineBehavior()(Third);

export interface MediatrCases {
  readonly mediatrTs3: Case;
  readonly once: (a: number) => Promise<unknown>;
}

export function setUpMediatrTs(): MediatrCases {
  // The behaviors run in registration order (First outermost); as they only pass through, order does not matter.
  const mediator = new Mediator();
  return {
    mediatrTs3: {
      name: 'mediatrTs3',
      async batch(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i++) sum += (await mediator.send(new IncrementRequest(i))).data;
        return sum;
      },
    },
    once: (a) => mediator.send(new IncrementRequest(a)),
  };
}
