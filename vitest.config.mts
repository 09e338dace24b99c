import { defineConfig } from 'vitest/config';

const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks',
} as const;

/**
 * The liveness tests assert how long the server's event loop is held: they run after every other
 * file, one at a time, so the rest of the suite's load does not stand in for the server's own work.
 */
const LIVENESS_TESTS = ['tests/reliability/liveness*.test.ts'];

export default defineConfig({
  test: {
    // Builds out/ once for the tests that read the built bundles (tests/global-build.ts).
    globalSetup: ['tests/global-build.ts'],
    projects: [
      {
        test: {
          ...shared,
          name: 'suite',
          include: ['tests/**/*.test.ts'],
          exclude: LIVENESS_TESTS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'liveness',
          include: LIVENESS_TESTS,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
