// `sentinel ble-proxy` and `sentinel ble key` as real processes: a simulated proxy
// pair feeding a real gateway, one SIGKILLed mid-stream; bindkeys in and out of KV.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect } from '../../../test/support/bus.js';
import { killStrays, runCli, SENTINEL_BIN, track } from '../../../test/support/cli.js';
import { startStack, type TestStack } from '../../../test/support/gateway.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

let stack: TestStack;
let dir: string;
let scenario: string;

const SCENARIO = {
  proxies: ['p1', 'p2'],
  sensors: [
    {
      mac: 'A4:C1:38:00:00:21',
      name: 'Porch',
      temperature: 12,
      advertise_ms: 50,
      measure_ms: 300,
      rssi: { p1: -50, p2: -78 },
    },
  ],
};

beforeAll(async () => {
  stack = await startStack();
  dir = await mkdtemp(join(tmpdir(), 'sentinel-ble-cli-'));
  scenario = join(dir, 'scenario.json');
  await writeFile(scenario, JSON.stringify(SCENARIO));
});

afterAll(async () => {
  killStrays();
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function startProxy(
  id: string,
  command: string[] = [SENTINEL_BIN, 'ble-proxy'],
): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = track(
    spawn(
      process.execPath,
      [
        ...command,
        '--simulate',
        scenario,
        '--id',
        id,
        '--nats',
        stack.nats.url,
        '--status-interval',
        '500',
        '--log-level',
        'warn',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as Record<string, unknown>));
    child.once('exit', (code) => reject(new Error(`ble-proxy exited ${code}: ${stderr}`)));
  });
  return { child, ready };
}

describe('sentinel ble-proxy', () => {
  it('keeps a sensor’s entities updating through the other proxy when one is SIGKILLed, with no reading twice', async () => {
    const states = await collect<{ value: unknown; source: { device_id: string; key: string } }>(
      stack.bus,
      'sentinel.state.>',
    );
    const p1 = await startProxy('p1');
    expect(p1.ready).toEqual({ event: 'ready', proxy: 'p1', simulated: true });
    const p2 = await startProxy('p2');
    const temperatures = () =>
      states.received
        .filter((s) => s.source.device_id === 'ble-a4c138000021' && s.source.key === 'temperature')
        .map((s) => s.value);
    await states.next(() => temperatures().length >= 3, 30_000);
    p1.child.kill('SIGKILL');
    await once(p1.child, 'exit');
    const handed = await stack.gateway.logged(
      (l) => l.msg === 'BLE address handed to another proxy' && l.from === 'p1',
    );
    expect(handed.to).toBe('p2');
    const before = temperatures().length;
    await states.next(() => temperatures().length >= before + 3, 30_000);
    // the scenario's temperature differs in every measurement: a reading published twice would repeat a value
    const values = temperatures();
    expect(new Set(values).size).toBe(values.length);
    const statuses = await collect<{ stopping?: boolean }>(stack.bus, 'sentinel.ble.proxy.p2.status');
    p2.child.kill('SIGTERM');
    const [code] = await once(p2.child, 'exit');
    expect(code).toBe(0);
    expect(await statuses.next((s) => s.stopping === true)).toMatchObject({ stopping: true });
  });

  it('refuses bad usage with exit code 2 and one line', async () => {
    const noId = await runCli(['ble-proxy', '--nats', stack.nats.url, '--simulate', scenario]);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(/^sentinel: --id: /);
    const badScenario = join(dir, 'bad.json');
    await writeFile(badScenario, JSON.stringify({ sensors: [{ mac: 'nope', rssi: {} }] }));
    const bad = await runCli([
      'ble-proxy',
      '--nats',
      stack.nats.url,
      '--id',
      'p9',
      '--simulate',
      badScenario,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('sensors.0.mac: must be AA:BB:CC:DD:EE:FF');
    const slots = await runCli(['ble-proxy', '--nats', stack.nats.url, '--id', 'p9', '--slots', 'many']);
    expect(slots.code).toBe(2);
    expect(slots.stderr).toMatch(/^sentinel: --slots: /);
  });
});

describe('the BLE proxy bundle for a Raspberry Pi (npm run build:ble-proxy)', () => {
  it('runs as plain JavaScript without tsx and feeds the gateway', async () => {
    // inside the repository, so the bundle finds noble (kept outside it) in node_modules
    const out = await mkdtemp(join(REPO, '.artifacts', 'ble-proxy-bundle-'));
    try {
      const built = spawn(
        process.execPath,
        [join(REPO, 'bin/run-ts.js'), 'scripts/build-ble-proxy.ts', out],
        {
          cwd: REPO,
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      const [code] = await once(built, 'exit');
      expect(code).toBe(0);
      const batches = await collect<{ adv: unknown[] }>(stack.bus, 'sentinel.ble.proxy.p2.adv');
      // p2: a proxy the scenario's sensor is heard by
      const pi = await startProxy('p2', [join(out, 'sentinel-ble-proxy.mjs')]);
      expect(pi.ready).toEqual({ event: 'ready', proxy: 'p2', simulated: true });
      await batches.next((b) => b.adv.length > 0);
      pi.child.kill('SIGTERM');
      const [exit] = await once(pi.child, 'exit');
      expect(exit).toBe(0);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('sentinel simulate ble', () => {
  it('runs every proxy of a scenario, and --kill ends one abruptly while the other carries on', async () => {
    const child = track(
      spawn(
        process.execPath,
        [SENTINEL_BIN, 'simulate', 'ble', scenario, '--nats', stack.nats.url, '--kill', 'p1@1500'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    );
    const statuses = await collect<{ proxy: string; ts: number }>(stack.bus, 'sentinel.ble.proxy.*.status');
    const lines = createInterface({ input: child.stdout! });
    const ready = await new Promise<unknown>((resolve) => lines.once('line', (l) => resolve(JSON.parse(l))));
    expect(ready).toEqual({ event: 'ready', proxies: ['p1', 'p2'], sensors: 1 });
    const killed = new Promise<void>((resolve) =>
      child.stderr!.on('data', (d: Buffer) => {
        if (d.toString().includes('killing proxy p1')) resolve();
      }),
    );
    await killed;
    const after = Date.now();
    // p2 keeps its heartbeat (every 5 s by default); p1 is silent from now on
    await statuses.next((s) => s.proxy === 'p2' && s.ts > after, 15_000);
    expect(statuses.received.filter((s) => s.proxy === 'p1' && s.ts > after + 100)).toEqual([]);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});

describe('sentinel ble key', () => {
  it('sets, lists and removes bindkeys in KV, and refuses bad input', async () => {
    const nats = ['--nats', stack.nats.url];
    const set = await runCli([
      'ble',
      'key',
      'set',
      'A4:C1:38:00:00:22',
      '231D39C1D7CC1AB1AEE224CD096DB932',
      ...nats,
    ]);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({ device_id: 'ble-a4c138000022', set: true });
    // junk written into the bucket by someone else is left out of the list, not fatal to it
    await (await new Kvm(stack.bus).open('sentinel_ble_keys')).put('ble-a4c1380000ff', 'not json');
    const list = await runCli(['ble', 'key', 'list', ...nats]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('"device_id":"ble-a4c138000022"');
    expect(list.stdout).not.toContain('ble-a4c1380000ff');
    expect(list.stdout).not.toContain('231d39c1'); // keys are never printed
    const removed = await runCli(['ble', 'key', 'remove', 'a4:c1:38:00:00:22', ...nats]);
    expect(JSON.parse(removed.stdout)).toEqual({ device_id: 'ble-a4c138000022', removed: true });
    const again = await runCli(['ble', 'key', 'remove', 'a4:c1:38:00:00:22', ...nats]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('sentinel: no bindkey is stored for a4:c1:38:00:00:22\n');
    const badMac = await runCli([
      'ble',
      'key',
      'set',
      'kitchen',
      '231d39c1d7cc1ab1aee224cd096db932',
      ...nats,
    ]);
    expect(badMac.code).toBe(2);
    expect(badMac.stderr).toContain('is not a Bluetooth address');
    const badKey = await runCli(['ble', 'key', 'set', 'A4:C1:38:00:00:22', 'abc', ...nats]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('a bindkey is 32 hex digits');
  });
});
