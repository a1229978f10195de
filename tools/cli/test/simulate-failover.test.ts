// `sentinel simulate picket --gateway a,b`: the devices of a real CLI process fail
// over from a gateway node that stops to the other node of the cluster, and keep
// sending readings.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collect } from '../../../test/support/bus.js';
import { killStrays, runCli, SENTINEL_BIN, track } from '../../../test/support/cli.js';
import {
  startStack,
  startTestGateway,
  type TestGateway,
  type TestStack,
} from '../../../test/support/gateway.js';

interface State {
  value: unknown;
  source: { device_id: string; key: string };
}

let stack: TestStack;
let other: TestGateway;
let dir: string;

beforeAll(async () => {
  stack = await startStack({ nodeId: 'node-a' });
  other = await startTestGateway(stack.nats, { nodeId: 'node-b' });
  dir = await mkdtemp(join(tmpdir(), 'sentinel-sim-failover-'));
}, 60_000);

afterAll(async () => {
  killStrays();
  await other?.stop().catch(() => undefined);
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

it('fails over between comma-separated gateway URLs and keeps sending readings', {
  timeout: 90_000,
}, async () => {
  const added = await runCli(['device', 'add', 'fo-1', '--nats', stack.nats.url]);
  expect(added.code, added.stderr).toBe(0);
  const file = join(dir, 'creds.jsonl');
  await writeFile(file, added.stdout);
  const states = await collect<State>(stack.bus, 'sentinel.state.>');
  const fromDevice = () => states.received.filter((s) => s.source.device_id === 'picket-fo-1').length;

  // node-b first: the devices start there
  const gateways = `mqtt://127.0.0.1:${other.mqttPort},mqtt://127.0.0.1:${stack.gateway.mqttPort}`;
  const sim: ChildProcess = track(
    spawn(
      process.execPath,
      [SENTINEL_BIN, 'simulate', 'picket', '--gateway', gateways, '--credentials', file, '--interval', '200'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  let stderr = '';
  sim.stderr!.on('data', (d) => {
    stderr += d;
  });
  await states.next(() => fromDevice() >= 2, 30_000);
  expect(stderr).toContain(gateways.replace(',', ', '));

  await other.stop();
  // only node-a is left to publish them
  const before = fromDevice();
  await states.next(() => fromDevice() >= before + 3, 30_000);

  const exited = once(sim, 'exit');
  sim.kill('SIGINT');
  const [code] = await exited;
  expect(code, stderr).toBe(0);
  states.stop();
});
