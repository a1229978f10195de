#!/usr/bin/env node
// The `sentinel` command: the CLI compiled by `npm run build` (npm start and npm test
// build first; so does `npm ci`/`npm install` through the `prepare` script).
const cli = new URL('../tools/cli/dist/', import.meta.url);

/**
 * `sentinel matter-server` is a long-running server whose memory counts (docs/matter.md,
 * Memory): when its bundle is built and fresh, this sets V8's memory flags before anything
 * but the check has loaded and returns the bundled entry, which holds only that command.
 * Otherwise (stale or no bundle) the CLI runs it as any command and says why on stderr.
 */
async function leanEntry() {
  if (process.argv[2] !== 'matter-server') return undefined;
  try {
    const { leanMatterServerEntry } = await import(new URL('commands/matter-server.js', cli).href);
    return leanMatterServerEntry();
  } catch (error) {
    // not built: the CLI's import below says so
    if (error?.code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

const entry = (await leanEntry()) ?? new URL('bin.js', cli);
try {
  await import(entry.href);
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('tools/cli/dist/bin.js')) {
    process.stderr.write('sentinel: the CLI is not built yet: run `npm run build` in the repository first\n');
    process.exit(1);
  }
  throw error;
}
