import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Builds out/ once for the tests that read the built bundles (tests/global-build.ts).
    globalSetup: ['tests/global-build.ts'],
  },
});
