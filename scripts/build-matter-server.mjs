// Bundles `sentinel matter-server` into tools/cli/dist/matter-server/: run.mjs, the body
// (tools/cli/src/commands/matter-server-run.ts), one file of only the Matter bridge, which
// the command loads instead of the CLI's module graph; and main.mjs (matter-server-main.ts),
// the command without the rest of the CLI, which bin/sentinel.js runs instead of the CLI.
// It saves ~30 MiB of RSS (docs/matter.md, Memory): fewer, smaller modules for V8 to keep.
// Plain JavaScript, so scripts/build.mjs can run it after tsc:
// `node scripts/build-matter-server.mjs` or `await buildMatterServer()`.
// A manifest lists our own sources in the bundle; the command ignores a bundle older than any.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildMatterServer(outdir = join(root, 'tools/cli/dist/matter-server')) {
  const result = await build({
    entryPoints: {
      run: join(root, 'tools/cli/src/commands/matter-server-run.ts'),
      main: join(root, 'tools/cli/src/matter-server-main.ts'),
    },
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
    write: false,
  });
  // written beside the bundle, then swapped in: a server starting meanwhile finds the old
  // bundle or the new one, never a folder half written (it would run the CLI's modules)
  const staging = `${outdir}.new-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  for (const file of result.outputFiles)
    await writeFile(join(staging, relative(outdir, file.path)), oneByte(file.text));
  const inputs = Object.keys(result.metafile.inputs)
    .filter((input) => !input.includes('node_modules/'))
    .map((input) => relative(outdir, join(process.cwd(), input)).replaceAll('\\', '/'));
  await writeFile(join(staging, 'manifest.json'), `${JSON.stringify({ inputs }, null, 2)}\n`);
  const old = `${outdir}.old-${process.pid}`;
  await rename(outdir, old).catch(() => undefined);
  await rename(staging, outdir);
  await rm(old, { recursive: true, force: true });
  return join(outdir, 'main.mjs');
}

/**
 * The bundle in ASCII only. V8 keeps each script's source for as long as its functions live,
 * one byte a character, but two for the whole file once a single character is beyond
 * Latin-1: esbuild escapes those in strings, not in the comments it keeps (matter.js's
 * `…` and `—`), which made the sources ~11 MiB instead of ~6 (measured: ~7 MiB less RSS).
 * An escape means the same character in a string, regular expression or identifier; the
 * rest are comments.
 */
function oneByte(text) {
  return text.replace(/[^\0-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = await buildMatterServer(process.argv[2]);
  process.stderr.write(`build: Matter server bundle in ${relative(process.cwd(), file)}\n`);
}
