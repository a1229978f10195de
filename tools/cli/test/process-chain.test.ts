// What a service manager, a container runtime or a person at a terminal does to the
// process they started: SIGTERM or SIGINT to `npm start`, `npx sentinel gateway` or
// `npx sentinel simulate esp-rom`, with npm and its `sh -c` in between. Everything
// below that process (node, the gateway's nats-server, the simulator's socat) must be
// gone within 5 s; nothing may be left running as an orphan.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { descendants, isRunning, SENTINEL_BIN, survivors } from '../../../test/support/cli.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const STOP_WITHIN_MS = 5000;

let dir: string;
let started: number[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-chain-'));
});
afterEach(() => {
  // whatever a failed test left running (only processes this file started)
  for (const pid of started.filter(isRunning)) process.kill(pid, 'SIGKILL');
  started = [];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Chain {
  top: ChildProcessWithoutNullStreams;
  /** the top process and every process below it, once the command said it is ready */
  tree: number[];
  names: string[];
  stderr(): string;
}

/** Starts `command args` in its own process group (as a terminal or a service manager does) and waits for its ready line. */
async function startChain(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Chain> {
  const top = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  top.stderr.on('data', (d) => {
    stderr += d;
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: top.stdout }).on('line', (line) => {
      if (line.startsWith('{"event":"ready"')) resolve();
    });
    top.once('exit', (code) => reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`)));
  });
  const pid = top.pid ?? 0;
  const tree = [pid, ...descendants(pid)];
  started.push(...tree);
  const names = await Promise.all(
    tree.map((p) =>
      readFile(`/proc/${p}/comm`, 'utf8').then(
        (c) => c.trim(),
        () => '',
      ),
    ),
  );
  return { top, tree, names, stderr: () => stderr };
}

const gatewayEnv = (name: string): NodeJS.ProcessEnv => ({
  SENTINEL_DATA: join(dir, name),
  SENTINEL_HOST: '127.0.0.1',
  SENTINEL_NATS_PORT: '0',
  SENTINEL_MQTT_PORT: '0',
  SENTINEL_HTTP_PORT: '0',
  SENTINEL_LOG_LEVEL: 'warn',
});

/** SIGTERM or SIGINT to the top process only, or SIGINT to its whole group (Ctrl-C in a terminal). */
type Delivery = 'SIGTERM' | 'SIGINT' | 'Ctrl-C';

function send(chain: Chain, how: Delivery): void {
  const pid = chain.top.pid ?? 0;
  if (how === 'Ctrl-C') process.kill(-pid, 'SIGINT');
  else process.kill(pid, how);
}

async function expectAllGone(chain: Chain): Promise<void> {
  const left = await survivors(chain.tree, STOP_WITHIN_MS);
  const described = left.map((pid) => `${pid} ${chain.names[chain.tree.indexOf(pid)]}`);
  expect(described, chain.stderr()).toEqual([]);
}

describe('npm start', () => {
  for (const how of ['SIGTERM', 'SIGINT', 'Ctrl-C'] as const)
    it(`stops the gateway and its nats-server on ${how} to npm`, { timeout: 90_000 }, async () => {
      const chain = await startChain('npm', ['start'], gatewayEnv(`npm-start-${how}`));
      expect(chain.names).toContain('nats-server');
      send(chain, how);
      await expectAllGone(chain);
      // the nats-server pid file goes with a clean stop
      await expect(stat(join(dir, `npm-start-${how}`, 'nats', 'nats-server.pid'))).rejects.toMatchObject({
        code: 'ENOENT',
      });
    });
});

describe('npx sentinel', () => {
  // (SIGINT to npm alone would need npm to run bins without `sh -c`: dash holds a
  // SIGINT until its child ends, so node never hears of it)
  for (const how of ['SIGTERM', 'Ctrl-C'] as const)
    it(`gateway: ${how} to npx stops node and nats-server behind npm's sh -c`, {
      timeout: 90_000,
    }, async () => {
      const chain = await startChain('npx', ['sentinel', 'gateway'], gatewayEnv(`npx-gateway-${how}`));
      expect(chain.names).toEqual(expect.arrayContaining(['sh', 'node', 'nats-server']));
      send(chain, how);
      await expectAllGone(chain);
    });

  for (const how of ['SIGTERM', 'Ctrl-C'] as const)
    it(`simulate esp-rom --pty: ${how} to npx stops node and socat, without a socat error`, {
      timeout: 60_000,
    }, async () => {
      const dump = join(dir, `npx-esp-${how}.dump`);
      const chain = await startChain('npx', [
        'sentinel',
        'simulate',
        'esp-rom',
        '--chip',
        'esp32s3',
        '--pty',
        join(dir, `npx-esp-${how}.tty`),
        '--dump',
        dump,
      ]);
      expect(chain.names).toContain('socat');
      send(chain, how);
      await expectAllGone(chain);
      expect(chain.stderr()).not.toMatch(/socat exited/);
      // it stopped the way it should: the flash was dumped
      expect((await stat(dump)).size).toBe(4 * 1024 * 1024);
    });
});

describe('sentinel simulate esp-rom and its socat', () => {
  const startSim = (name: string) =>
    startChain(process.execPath, [
      SENTINEL_BIN,
      'simulate',
      'esp-rom',
      '--chip',
      'esp32c3',
      '--pty',
      join(dir, `${name}.tty`),
      '--dump',
      join(dir, `${name}.dump`),
    ]);
  const socatOf = (chain: Chain) => {
    const socat = chain.tree[chain.names.indexOf('socat')];
    expect(socat).toBeDefined();
    return socat ?? 0;
  };

  it('a socat stopped by SIGTERM (the whole service being stopped) is no error: a clean stop', {
    timeout: 60_000,
  }, async () => {
    const chain = await startSim('socat-term');
    const exited = once(chain.top, 'exit');
    process.kill(socatOf(chain), 'SIGTERM');
    const [code] = await exited;
    expect(chain.stderr()).not.toMatch(/socat exited/);
    expect(code).toBe(0);
    expect((await stat(join(dir, 'socat-term.dump'))).size).toBe(4 * 1024 * 1024);
  });

  it('socat does not outlive a simulator killed with SIGKILL', { timeout: 60_000 }, async () => {
    const chain = await startSim('sim-kill');
    socatOf(chain);
    chain.top.kill('SIGKILL');
    await expectAllGone(chain);
  });
});
