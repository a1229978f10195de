// The built packages as another project meets them: `npm pack` of the pure libraries
// (firmware, devices) installs in an empty directory and works through its public
// entry in Node, and bundles for a browser; every workspace declares what it imports.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript build script, no declarations
import { checkDependencies } from '../scripts/check-deps.mjs';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('packed libraries', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sentinel-pack-'));
    await mkdir(join(dir, 'tarballs'));
    await mkdir(join(dir, 'consumer'));
    for (const workspace of ['firmware', 'devices']) {
      await run('npm', ['pack', '--silent', '--pack-destination', join(dir, 'tarballs'), '-w', workspace], {
        cwd: ROOT,
      });
    }
    await writeFile(
      join(dir, 'consumer', 'package.json'),
      '{"name":"consumer","private":true,"type":"module"}\n',
    );
    // dependencies from npm's cache where it has them (this repository's own install)
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        join(dir, 'tarballs', 'sentinel-firmware-0.1.0.tgz'),
        join(dir, 'tarballs', 'sentinel-devices-0.1.0.tgz'),
      ],
      { cwd: join(dir, 'consumer') },
    );
  }, 120_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ship compiled JavaScript with declarations and no sources', async () => {
    const { stdout } = await run('tar', ['-tzf', join(dir, 'tarballs', 'sentinel-devices-0.1.0.tgz')]);
    const files = stdout.trim().split('\n');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('work through their public entries in an empty project', async () => {
    // a BTHome v2 temperature and humidity (bthome.io format examples), an NVS partition
    // read back, and a partition table round trip: each library's everyday job
    const script = `
      import { decodeAdvertisement } from '@sentinel/devices';
      import { buildNvsPartition, readNvsPartition, parsePartitionCsv, encodePartitionTable, decodePartitionTable } from '@sentinel/firmware';
      const adv = { mac: 'A4:C1:38:00:00:01', serviceData: [{ uuid: 'fcd2', data: Uint8Array.from([0x40, 0x02, 0xca, 0x09, 0x03, 0xbf, 0x13]) }], manufacturerData: [] };
      const decoded = decodeAdvertisement(adv);
      const nvs = readNvsPartition(buildNvsPartition([{ namespace: 'picket', key: 'id', type: 'string', value: 'kitchen' }], 0x3000));
      const table = decodePartitionTable(encodePartitionTable(parsePartitionCsv('nvs, data, nvs, 0x9000, 0x6000\\nfactory, app, factory, 0x10000, 1M\\n')));
      console.log(JSON.stringify({ decoded, nvs: nvs.items, names: table.entries.map((e) => e.name) }));
    `;
    await writeFile(join(dir, 'consumer', 'use.mjs'), script);
    const { stdout } = await run(process.execPath, ['use.mjs'], { cwd: join(dir, 'consumer') });
    const out = JSON.parse(stdout);
    expect(out.decoded.measurements).toMatchObject({ temperature: 25.06, humidity: 50.55 });
    expect(JSON.stringify(out.nvs)).toContain('kitchen');
    expect(out.names).toEqual(['nvs', 'factory']);
  });

  it('bundle for a browser (no Node built-ins reachable from their entries)', async () => {
    for (const name of ['@sentinel/devices', '@sentinel/firmware']) {
      const entry = join(dir, 'consumer', `entry-${name.split('/')[1]}.mjs`);
      await writeFile(entry, `export * from '${name}';\n`);
      const result = await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'silent',
        absWorkingDir: join(dir, 'consumer'),
      });
      expect(result.errors, name).toEqual([]);
      expect(result.outputFiles[0]?.text.length, name).toBeGreaterThan(1000);
    }
  });
});

describe('declared dependencies', () => {
  it('hold for this repository', () => {
    expect(checkDependencies(ROOT).errors).toEqual([]);
  });

  it('catch an undeclared import, a node: import in a browser library and an arrow against DESIGN.md', async () => {
    const fake = await mkdtemp(join(tmpdir(), 'sentinel-deps-'));
    try {
      const workspace = async (dir: string, pkg: object, source: string) => {
        await mkdir(join(fake, dir, 'src'), { recursive: true });
        await writeFile(join(fake, dir, 'package.json'), JSON.stringify(pkg));
        await writeFile(join(fake, dir, 'src', 'index.ts'), source);
      };
      await writeFile(join(fake, 'package.json'), JSON.stringify({ workspaces: ['devices', 'gateway'] }));
      await workspace('devices', { name: '@sentinel/devices' }, "import { readFile } from 'node:fs';\n");
      await workspace(
        'gateway',
        { name: '@sentinel/gateway', dependencies: { '@sentinel/cli': '0.1.0', zod: '^4' } },
        "import { z } from 'zod';\nimport { x } from 'left-pad';\nimport { main } from '@sentinel/cli';\n",
      );
      const problems: string[] = checkDependencies(fake).errors;
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /devices\/src\/index\.ts:1: imports node:fs, but @sentinel\/devices must also run in a browser/,
          ),
          expect.stringMatching(
            /gateway\/src\/index\.ts:2: imports left-pad, which @sentinel\/gateway's package\.json does not list/,
          ),
          expect.stringMatching(/@sentinel\/gateway depends on @sentinel\/cli, against the direction/),
        ]),
      );
    } finally {
      await rm(fake, { recursive: true, force: true });
    }
  });
});
