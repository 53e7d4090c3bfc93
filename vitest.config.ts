import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources through this export condition, so tests need no build.
  resolve: { conditions: ['@myelin/source'] },
  ssr: { resolve: { conditions: ['@myelin/source'] } },
  test: {
    include: [
      'packages/*/src/**/*.spec.ts',
      'examples/*/src/**/*.spec.ts',
      'consumer/*.spec.ts',
      'e2e/*.spec.ts',
    ],
    // Many tests wait for real PostgreSQL and NATS work to happen (a relay catching up, a standby taking over) on a
    // 2-core machine that also runs the crash cycles: a generous bound keeps a slow moment from failing them.
    testTimeout: 30_000,
    // Set-up hooks boot whole applications (PGlite, migrations, a daemon serving every projection): the same bound.
    hookTimeout: 30_000,
    // Type tests (*.spec-d.ts) are checked by `npm run typecheck`; they have nothing to run.
  },
});
