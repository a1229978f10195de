// `npm run build:ble-proxy`: bundles the BLE proxy node into plain JavaScript that
// node runs on its own (bridges/ble-proxy/bundle/), for a Raspberry Pi Zero 2 W:
// one file to copy, and ~60 MB RSS where the full CLI takes more. The simulated radio
// (--simulate) stays in a separate chunk that a proxy on real hardware never loads;
// noble stays outside the bundle because it carries its native HCI binding.
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = process.argv[2] ?? `${root}bridges/ble-proxy/bundle`;

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { 'sentinel-ble-proxy': `${root}tools/cli/src/ble-proxy-main.ts` },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // from the workspaces' sources, so the bundle does not depend on a prior `npm run build`
  conditions: ['sentinel-source'],
  target: 'node20',
  external: ['@stoprocent/noble'],
  // CommonJS dependencies inside an ES module bundle still call require()
  banner: {
    js: "import { createRequire as __sentinelRequire } from 'node:module';\nconst require = __sentinelRequire(import.meta.url);",
  },
  legalComments: 'linked',
  logLevel: 'warning',
});
process.stderr.write(`build: BLE proxy bundle in ${outdir}/sentinel-ble-proxy.mjs\n`);
