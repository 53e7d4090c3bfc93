import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // A test that opens PGlite (PostgreSQL in WebAssembly) takes a second or two, more on a busy CI machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
