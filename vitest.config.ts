import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources through this export condition, so tests need no build.
  resolve: { conditions: ['@myelin/source'] },
  ssr: { resolve: { conditions: ['@myelin/source'] } },
  test: {
    include: ['packages/*/src/**/*.spec.ts', 'examples/*/src/**/*.spec.ts'],
    // Type tests (*.spec-d.ts) are checked by `npm run typecheck`; they have nothing to run.
  },
});
