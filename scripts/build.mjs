// `npm run build`: compiles every workspace to <workspace>/dist (JavaScript with
// declarations, tsc -b in dependency order, incremental), copies the web pages,
// bundles the browser flasher and the Matter server, indexes the CLI's commands and checks the workspaces' declared dependencies.
// Plain JavaScript, so it runs before anything is compiled. `--clean` starts over.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkDependencies } from './check-deps.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const started = performance.now();

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(1);
}

const { errors, warnings } = checkDependencies(root);
for (const warning of warnings) console.error(`build: warning: ${warning}`);
if (errors.length > 0) {
  for (const error of errors) console.error(`build: ${error}`);
  fail(
    'declare each import in the importing workspace’s package.json (or drop the import), then build again',
  );
}

if (process.argv.includes('--clean')) {
  // only our workspaces' outputs: never a glob that could reach into node_modules
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const pattern of workspaces) {
    const dirs = pattern.endsWith('/*')
      ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => join(root, pattern.slice(0, -2), e.name))
      : [join(root, pattern)];
    for (const dir of dirs) rmSync(join(dir, 'dist'), { recursive: true, force: true });
  }
}

const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) fail('TypeScript reported errors (above); fix them and run `npm run build` again');

// the pages the gateway serves are plain files beside its compiled modules
const webSource = join(root, 'gateway/src/web');
const webDist = join(root, 'gateway/dist/web');
mkdirSync(webDist, { recursive: true });
for (const file of readdirSync(webSource)) {
  if (!file.endsWith('.ts')) copyFileSync(join(webSource, file), join(webDist, file));
}
const { writeFlashAppBundle } = await import(
  pathToFileURL(join(root, 'gateway/dist/web/flash-bundle.js')).href
);
await writeFlashAppBundle();

// the household web app: one browser bundle (Preact, uPlot) and its page, served by the gateway
if (existsSync(join(root, 'web/src/main.tsx'))) {
  const { build } = await import('esbuild');
  rmSync(join(root, 'web/dist'), { recursive: true, force: true });
  await build({
    entryPoints: [join(root, 'web/src/main.tsx')],
    outdir: join(root, 'web/dist/assets'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome110',
    conditions: ['sentinel-source'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    // uPlot loads only with the history view: the dashboard stays small
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'web/src/index.html'), join(root, 'web/dist/index.html'));
  // compressed once here, not per request: the gateway sends these to browsers that accept them
  const { brotliCompressSync, gzipSync, constants } = await import('node:zlib');
  for (const entry of readdirSync(join(root, 'web/dist/assets'), { recursive: true })) {
    const file = join(root, 'web/dist/assets', String(entry));
    if (!/\.(js|css)$/.test(file)) continue;
    const body = readFileSync(file);
    writeFileSync(
      `${file}.br`,
      brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    );
    writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
  }
}

// `sentinel matter-server` runs from one bundle of only the Matter bridge (less memory)
const { buildMatterServer } = await import('./build-matter-server.mjs');
await buildMatterServer();

// `sentinel --help` lists the commands from this index instead of loading every module
const { indexCommands } = await import(pathToFileURL(join(root, 'tools/cli/dist/main.js')).href);
writeFileSync(
  join(root, 'tools/cli/dist/commands.json'),
  `${JSON.stringify(await indexCommands(), null, 2)}\n`,
);

if (!process.argv.includes('--quiet'))
  console.error(`build: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
