// Bundles the body of `sentinel matter-server` (tools/cli/src/commands/matter-server-run.ts)
// into tools/cli/dist/matter-server/: one file of only the Matter bridge, which the command
// loads instead of the CLI's module graph. It saves ~30 MiB of RSS (docs/matter.md, Memory):
// fewer, smaller modules for V8 to keep. Plain JavaScript, so scripts/build.mjs can run it
// after tsc: `node scripts/build-matter-server.mjs` or `await buildMatterServer()`.
// A manifest lists our own sources in the bundle; the command ignores a bundle older than any.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildMatterServer(outdir = join(root, 'tools/cli/dist/matter-server')) {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await build({
    entryPoints: { run: join(root, 'tools/cli/src/commands/matter-server-run.ts') },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // chunks load when used: the lock code only with --nats, and @matter/nodejs's Bun SQLite
    // driver (which imports bun:sqlite, left external) never under node
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    conditions: ['sentinel-source'],
    // the runner needs only the leader lock of the gateway; its package index would bring
    // the whole gateway (HTTP, MQTT broker…) into the bundle
    alias: { '@sentinel/gateway': join(root, 'gateway/src/bus/locks.ts') },
    external: ['bun:sqlite'],
    // not minified: measured, the minified bundle (names kept, as matter.js needs) held
    // ~9 MiB more RSS, and stack traces stay readable
    banner: {
      js: "import { createRequire as __sentinelRequire } from 'node:module';\nconst require = __sentinelRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((input) => !input.includes('node_modules/'))
    .map((input) => relative(outdir, join(process.cwd(), input)).replaceAll('\\', '/'));
  await writeFile(join(outdir, 'manifest.json'), `${JSON.stringify({ inputs }, null, 2)}\n`);
  return join(outdir, 'run.mjs');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = await buildMatterServer(process.argv[2]);
  process.stderr.write(`build: Matter server bundle in ${relative(process.cwd(), file)}\n`);
}
