import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // tests import the workspaces' TypeScript sources (the `sentinel-source` export condition);
  // processes they spawn (bin/sentinel.js) run the compiled dist/ that globalSetup builds
  resolve: { conditions: ['sentinel-source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['sentinel-source', ...defaultServerConditions] } },
  test: {
    include: ['*/test/**/*.test.ts', '*/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['./test/support/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // two test files at once, also on 2 cores (vitest's default there is one): most files wait
    // on the processes, servers and timers they start rather than compute. Measured on 2 cores:
    // the suite in 627 s instead of 916 s, no test slower than its timeout.
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
