import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests share PostgreSQL and spawn servers; two workers suit a 2-core machine.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
