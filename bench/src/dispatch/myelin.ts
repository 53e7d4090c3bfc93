// Myelin: the same handler through an application's mediator, without and with three pass-through behaviors.
import { type Application, behavior, command, createApplication, handler, ok, unchecked } from '@myelin/core';
import type { Case } from '../harness.ts';

const Increment = command('bench.Increment', unchecked<{ a: number }>()).returns<number>();

const increment = handler(Increment, async (command) => ok(command.a + 1));

// Three pass-through behaviors, each its own function like the hand-composed middlewares of the plain cases.
const first = behavior({ name: 'first', order: 10, scope: 'commands' }, (_message, next) => next());
const second = behavior({ name: 'second', order: 20, scope: 'commands' }, (_message, next) => next());
const third = behavior({ name: 'third', order: 30, scope: 'commands' }, (_message, next) => next());

export interface MyelinCases {
  readonly myelin: Case;
  readonly myelin3: Case;
  readonly once: {
    readonly myelin: (a: number) => Promise<unknown>;
    readonly myelin3: (a: number) => Promise<unknown>;
  };
  readonly close: () => Promise<void>;
}

export async function setUpMyelin(): Promise<MyelinCases> {
  // Validation off: the peers validate nothing either, and `unchecked` would make it a no-op anyway.
  const bare: Application = await createApplication({ validation: false }).handle(increment).build();
  const layered: Application = await createApplication({ validation: false })
    .use(first, second, third)
    .handle(increment)
    .build();
  const bareMediator = bare.mediator;
  const layeredMediator = layered.mediator;
  return {
    myelin: {
      name: 'myelin',
      async batch(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i++) {
          const result = await bareMediator.execute(new Increment({ a: i }));
          if (result.ok) sum += result.data;
        }
        return sum;
      },
    },
    myelin3: {
      name: 'myelin3',
      async batch(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i++) {
          const result = await layeredMediator.execute(new Increment({ a: i }));
          if (result.ok) sum += result.data;
        }
        return sum;
      },
    },
    once: {
      myelin: (a) => bareMediator.execute(new Increment({ a })),
      myelin3: (a) => layeredMediator.execute(new Increment({ a })),
    },
    close: async () => {
      await bare.dispose();
      await layered.dispose();
    },
  };
}
