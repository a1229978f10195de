// The Matter adapter on two gateway nodes (real processes, one nats-server): one adapter
// per cluster, on the holder of the `matter_adapter` lock; when that node is SIGKILLed the
// other takes over, and the light (paired once, through the bridge) comes back online and
// answers commands, with the same entity ids.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryStorage, type MatterServer, startMatterServer } from '../../bridges/matter/src/index.js';
import {
  type SimulatedMatterDevice as SimulatedDevice,
  startSimulatedMatterDevice as startSimulatedDevice,
} from '../../simulators/src/matter/index.js';
import { connectTestBus, entityIdsOf, kvValue } from '../../test/support/bus.js';
import { killStrays } from '../../test/support/cli.js';
import { type ClusterNode, removeNodeData, startClusterNode, until } from '../../test/support/cluster.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { MatterApiClient } from '../src/matter/client.js';

let nats: TestNats;
let dir: string;
let bridge: MatterServer;
let light: SimulatedDevice;
let bus: NatsConnection;
const nodes: ClusterNode[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-matter-cluster-'));
  [nats, light, bridge] = await Promise.all([
    startNats(),
    startSimulatedDevice({ type: 'on-off-light' }),
    startMatterServer({ storage: directoryStorage(dir), loopbackOnly: true, apiPort: 0 }),
  ]);
  bus = await connectTestBus(nats.url);
  // both nodes get --matter-url through its variable (the cluster helper takes no extra flags)
  process.env.SENTINEL_MATTER_URL = bridge.url;
  try {
    nodes.push(...(await Promise.all(['node-a', 'node-b'].map((id) => startClusterNode(nats.url, id)))));
  } finally {
    delete process.env.SENTINEL_MATTER_URL;
  }
}, 60_000);

afterAll(async () => {
  killStrays();
  for (const node of nodes) {
    await node.stop();
    await removeNodeData(node);
  }
  await bus?.close();
  await bridge?.close();
  await light?.stop();
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const metric = async (node: ClusterNode, name: string): Promise<number> => {
  const text = await (await node.gateway.api('/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
};

describe('Matter adapter on two nodes', () => {
  let deviceId: string;
  let lightId: string;
  const command = async (value: boolean) =>
    (await bus.request(`sentinel.cmd.${lightId}`, JSON.stringify({ value }), { timeout: 10_000 })).json();

  it('runs on the lock holder only, and moves with the lock when that node dies', async () => {
    const api = await MatterApiClient.connect(bridge.url);
    const node = await api.request<{ node_id: bigint }>(
      'commission_with_code',
      { code: light.manualPairingCode, ip_addr: light.host, port: light.port },
      30_000,
    );
    api.close();
    deviceId = `matter-${node.node_id}`;
    await kvValue<{ online: boolean }>(bus, 'sentinel_devices', deviceId, (d) => d.online);
    lightId = await until(async () => (await entityIdsOf(bus, deviceId))['light-1']);
    const holder = await until(async () => (await nodes[0]!.status()).leaders.matter_adapter?.node_id);
    const leader = nodes.find((n) => n.nodeId === holder)!;
    const standby = nodes.find((n) => n.nodeId !== holder)!;
    expect(await metric(leader, 'sentinel_matter_connected')).toBe(1);
    expect(await metric(standby, 'sentinel_matter_connected')).toBe(0);
    expect(await command(true)).toEqual({ ok: true });
    expect(await light.isOn()).toBe(true);

    await leader.kill();
    await until(
      async () =>
        (await standby.status()).leaders.matter_adapter?.node_id === standby.nodeId ? true : undefined,
      20_000,
    );
    await kvValue<{ online: boolean; node_id?: string }>(
      bus,
      'sentinel_devices',
      deviceId,
      (d) => d.online && d.node_id === standby.nodeId,
      20_000,
    );
    expect((await entityIdsOf(bus, deviceId))['light-1']).toBe(lightId);
    expect(await command(false)).toEqual({ ok: true });
    expect(await light.isOn()).toBe(false);
  }, 60_000);
});
