// One BLE adapter per cluster: two gateway processes on one nats-server, the
// adapter runs on the holder of the `ble` lock; when that process is SIGKILLed the
// other node takes the lock and the sensor's entities keep updating.
import { rm } from 'node:fs/promises';
import { BleAir, bthomeV2, SimulatedBleSensor } from '@sentinel/simulators';
import { afterAll, expect, it } from 'vitest';
import { startSimulatedProxy } from '../../test/support/ble.js';
import { collect, connectTestBus, kvValue } from '../../test/support/bus.js';
import { type CliGateway, killStrays, startLocalGateway } from '../../test/support/cli.js';
import { startNats, type TestNats } from '../../test/support/nats.js';

const MAC = 'A4:C1:38:00:00:09';
const DEVICE = 'ble-a4c138000009';

let nats: TestNats | undefined;
const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  killStrays();
  await nats?.stop();
});

it('moves the BLE adapter to the other gateway node when its leader dies', { timeout: 90_000 }, async () => {
  nats = await startNats();
  const lockFlags = ['--lock-ttl', '2000', '--lock-heartbeat', '400', '--lock-grace', '1000'];
  const common = ['--nats', nats.url, '--log-level', 'warn'];
  const nodes = new Map<string, CliGateway>();
  for (const id of ['node-a', 'node-b']) {
    const node = await startLocalGateway([
      ...common,
      ...lockFlags,
      '--node-id',
      id,
      '--data',
      `${nats.storeDir}-${id}`,
    ]);
    nodes.set(id, node);
    stops.push(async () => {
      if (node.process.exitCode === null && node.process.signalCode === null) await node.stop();
      await rm(`${nats!.storeDir}-${id}`, { recursive: true, force: true });
    });
  }
  const bus = await connectTestBus(nats.url);
  stops.push(() => bus.close());
  const states = await collect<{ value: number; source: { device_id: string; key: string } }>(
    bus,
    'sentinel.state.>',
  );

  const air = new BleAir([
    new SimulatedBleSensor({
      mac: MAC,
      advertiseEveryMs: 50,
      measureEveryMs: 250,
      rssi: { p1: -60 },
      advertisement: (m) => bthomeV2(MAC, { packetId: m & 0xff, temperature: 10 + (m % 1000) / 10 }),
    }),
  ]);
  const proxy = await startSimulatedProxy(air, 'p1', nats.url);
  air.start();
  stops.push(async () => {
    air.stop();
    await proxy.stop();
  });

  const temperatures = () =>
    states.received
      .filter((s) => s.source.device_id === DEVICE && s.source.key === 'temperature')
      .map((s) => s.value);
  await states.next(() => temperatures().length >= 3, 30_000);
  const leader = await kvValue<{ node_id: string }>(bus, 'sentinel_locks', 'ble');
  const standby = leader.node_id === 'node-a' ? 'node-b' : 'node-a';
  nodes.get(leader.node_id)!.process.kill('SIGKILL');
  const before = temperatures().length;
  await kvValue<{ node_id: string }>(bus, 'sentinel_locks', 'ble', (v) => v.node_id === standby, 30_000);
  await states.next(() => temperatures().length >= before + 3, 30_000);
  const values = temperatures();
  // the new leader carries on without repeating a reading the old one published
  expect(new Set(values).size).toBe(values.length);
});
