// The page's policy forbids eval, and zod compiles its object parsers with `new Function` when it may: told not
// to, it never tries (a try would still be reported as a violation of the policy). Imported first by app.ts, so
// that it runs before any schema is declared.
import * as z from 'zod';

z.config({ jitless: true });
