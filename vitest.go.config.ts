import { defineConfig } from 'vitest/config';

// `npm run test:go`: the live cross-checks against the real Go stores. They need the Go
// binaries that scripts/test-go.sh builds, so `npm test` leaves them out.
export default defineConfig({
  test: {
    include: ['test/interop/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
