import { command } from '@myelin/core';
import { z } from 'zod';

/** Internal: run at start-up by every process, never routed. */
export const SeedMenu = command('SeedMenu', z.object({})).returns(
  z.object({ added: z.array(z.string()).readonly() }),
);
