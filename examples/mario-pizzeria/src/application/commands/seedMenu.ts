import { command } from '@myelin/core';
import { z } from 'zod';

/** Internal: run at start-up by every process, never routed. */
export const SeedMenu = command('SeedMenu', z.object({})).returns<{ readonly added: readonly string[] }>();
