import { describe, it } from 'vitest';
import { messageBusContract } from '../testing/messageBusContract.ts';
import { InMemoryMessageBus } from './inMemoryMessageBus.ts';

describe('the message-bus contract in memory', () => {
  const bus = new InMemoryMessageBus();
  for (const contract of messageBusContract()) it(contract.name, () => contract.run({ bus, other: bus }));
});
