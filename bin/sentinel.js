#!/usr/bin/env node
// The `sentinel` command: the CLI compiled by `npm run build` (npm start and npm test
// build first; so does `npm ci`/`npm install` through the `prepare` script).
const entry = new URL('../tools/cli/dist/bin.js', import.meta.url);
try {
  await import(entry.href);
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('tools/cli/dist/bin.js')) {
    process.stderr.write('sentinel: the CLI is not built yet: run `npm run build` in the repository first\n');
    process.exit(1);
  }
  throw error;
}
