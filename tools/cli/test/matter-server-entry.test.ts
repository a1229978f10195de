// `sentinel matter-server` skips the CLI when its bundle is fresh (bin/sentinel.js runs the
// bundled matter-server-main.ts, with V8's memory flags set first): a user must see the same
// help, errors and exit codes as from the CLI, and a stale or missing bundle must still
// run the server, from the CLI's modules, saying why on stderr.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killStrays, runScript as run, SENTINEL_BIN, track } from '../../../test/support/cli.js';
import { bundleState } from '../src/commands/matter-server.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const DIST = new URL('../dist/', import.meta.url);
/** the CLI itself, as bin/sentinel.js runs it for every other command */
const CLI_BIN = fileURLToPath(new URL('bin.js', DIST));

interface Listening {
  url: string;
  memory: { v8_flags: string[]; cli_skipped: boolean; bundle: boolean };
}

/** `<bin> matter-server --port 0 --loopback-only` until its listening line; then SIGTERM. */
async function serve(
  bin: string,
  cwd?: string,
): Promise<{ listening: Listening; stderr: string; code: number | null }> {
  const child: ChildProcess = track(
    spawn(process.execPath, [bin, 'matter-server', '--port', '0', '--loopback-only'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const listening = await new Promise<Listening>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as Listening));
    child.once('exit', (code) => reject(new Error(`matter-server exited ${code}: ${stderr}`)));
  });
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  return { listening, stderr, code: code as number | null };
}

afterAll(() => killStrays());

it('the build made a fresh bundle, so `sentinel matter-server` takes the lean entry below', () => {
  expect(bundleState(new URL('matter-server/', DIST))).toMatchObject({ fresh: true });
});

describe.concurrent('the lean entry answers as the CLI does', () => {
  it.each([
    [['--help']],
    [['--bogus']],
    [['--port', '70000']],
    [['--lock-ttl', '5']],
    [['--nats-creds', 'matter.creds']],
    [['extra-argument']],
  ])('sentinel matter-server %j', async (args) => {
    const [lean, cli] = await Promise.all([
      run(SENTINEL_BIN, ['matter-server', ...args]),
      run(CLI_BIN, ['matter-server', ...args]),
    ]);
    expect(lean).toEqual(cli);
    expect(lean.code).toBe(args[0] === '--help' ? 0 : 2);
  });
});

describe.concurrent('which entry runs the server', () => {
  let tree: string;

  beforeAll(async () => {
    // bin/sentinel.js and the built CLI in a tree of their own, with the bundle made stale
    // by a source newer than it (the manifest lists the sources it was made from)
    tree = await mkdtemp(join(tmpdir(), 'sentinel-matter-entry-'));
    await mkdir(join(tree, 'bin'));
    await cp(SENTINEL_BIN, join(tree, 'bin/sentinel.js'));
    await cp(fileURLToPath(DIST), join(tree, 'tools/cli/dist'), { recursive: true });
    await symlink(join(REPO, 'node_modules'), join(tree, 'node_modules'));
    const source = join(tree, 'tools/cli/src/commands/matter-server-run.ts');
    await mkdir(join(tree, 'tools/cli/src/commands'), { recursive: true });
    await writeFile(source, '// edited since the build\n');
    const later = new Date(Date.now() + 60_000);
    await utimes(source, later, later);
    const manifest = join(tree, 'tools/cli/dist/matter-server/manifest.json');
    await writeFile(manifest, JSON.stringify({ inputs: ['../../src/commands/matter-server-run.ts'] }));
  });

  afterAll(async () => {
    await rm(tree, { recursive: true, force: true });
  });

  it('a fresh bundle: the server runs without the CLI, V8 flags set', async () => {
    const { listening, code } = await serve(SENTINEL_BIN);
    expect(listening.memory).toEqual({
      v8_flags: ['--optimize-for-size', '--semi-space-growth-factor=1', '--no-opt'],
      cli_skipped: true,
      bundle: true,
    });
    expect(code).toBe(0);
  });

  it('a stale bundle: the CLI runs the server from its modules and says why', async () => {
    const { listening, stderr, code } = await serve(join(tree, 'bin/sentinel.js'), tree);
    expect(listening.memory).toMatchObject({ cli_skipped: false, bundle: false });
    expect(stderr).toContain(
      'matter-server: the lean bundle is older than tools/cli/src/commands/matter-server-run.ts; ' +
        'running the CLI modules (more memory) until `npm run build`',
    );
    expect(code).toBe(0);
  });
});

describe('bundleState', () => {
  let dir: string;
  const url = () => pathToFileURL(`${dir}/`);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sentinel-matter-bundle-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('no bundle, or one built before main.mjs existed, is "not built"; a listed source gone makes it stale', async () => {
    expect(bundleState(url())).toEqual({ fresh: false, reason: 'not built' });
    await writeFile(join(dir, 'run.mjs'), '');
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ inputs: ['gone.ts'] }));
    expect(bundleState(url())).toEqual({ fresh: false, reason: 'not built' });
    await writeFile(join(dir, 'main.mjs'), '');
    expect(bundleState(url())).toMatchObject({
      fresh: false,
      reason: expect.stringMatching(/^older than .*gone\.ts$/),
    });
    await writeFile(join(dir, 'manifest.json'), '{');
    expect(bundleState(url())).toMatchObject({ fresh: false, reason: expect.stringMatching(/^unreadable/) });
  });
});
