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
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
