// The gateway's Matter adapter (issue 12) against the real bridge (bridges/matter, matter.js
// controller) and a simulated dimmable light, both on loopback, paired over real UDP: the
// node becomes a device with entities, sentinel.cmd drives the light, a change made on the
// light reaches sentinel.state, the bridge going away and coming back is followed, and
// removal removes the device.
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
import { collect, connectTestBus, entityIdsOf, kvValue } from '../../test/support/bus.js';
import { until } from '../../test/support/cluster.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { MatterApiClient } from '../src/matter/client.js';

interface Reply {
  ok: boolean;
  error?: { code: string; message: string };
}

describe('Matter adapter, with the bridge and a simulated dimmable light', () => {
  let nats: TestNats;
  let dir: string;
  let bridge: MatterServer;
  let light: SimulatedDevice;
  let gateway: TestGateway;
  let bus: NatsConnection;
  let api: MatterApiClient;
  let deviceId: string;
  let ids: Record<string, string>;

  const startBridge = (apiPort = 0) =>
    startMatterServer({ storage: directoryStorage(dir), loopbackOnly: true, apiPort });
  const command = async (entityId: string, request: unknown): Promise<Reply> =>
    (
      await bus.request(`sentinel.cmd.${entityId}`, JSON.stringify(request), { timeout: 10_000 })
    ).json<Reply>();
  const device = (predicate: (d: { online: boolean }) => boolean) =>
    kvValue<{ online: boolean; protocol: string; model?: string; manufacturer?: string }>(
      bus,
      'sentinel_devices',
      deviceId,
      predicate,
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sentinel-matter-adapter-'));
    [nats, light, bridge] = await Promise.all([
      startNats(),
      startSimulatedDevice({ type: 'dimmable-light', passcode: 20202021, discriminator: 3840 }),
      startBridge(),
    ]);
    gateway = await startTestGateway(nats, { matterUrl: bridge.url, commandTimeoutMs: 8000 });
    bus = await connectTestBus(nats.url);
    api = await MatterApiClient.connect(bridge.url);
  }, 60_000);

  afterAll(async () => {
    api?.close();
    await bus?.close();
    await gateway?.stop();
    await bridge?.close();
    await light?.stop();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a light paired through the bridge becomes a device matter-<node id> with its entities', async () => {
    await gateway.logged((line) => line.msg === 'connected to the matter server');
    const node = await api.request<{ node_id: bigint }>(
      'commission_with_code',
      { code: light.manualPairingCode, ip_addr: light.host, port: light.port },
      30_000,
    );
    deviceId = `matter-${node.node_id}`;
    const record = await device((d) => d.online);
    expect(record).toMatchObject({ protocol: 'matter', online: true, manufacturer: 'Sentinel Edge' });
    ids = await until(async () => {
      const found = await entityIdsOf(bus, deviceId);
      return found['light-1'] && found['brightness-1'] ? found : undefined;
    });
    const lightEntity = await kvValue<{ platform: string }>(bus, 'sentinel_entities', ids['light-1']!);
    expect(lightEntity.platform).toBe('light');
    const brightness = await kvValue<{ platform: string; unit: string }>(
      bus,
      'sentinel_entities',
      ids['brightness-1']!,
    );
    expect(brightness).toMatchObject({ platform: 'number', unit: '%' });
    // the light's state as the device reported it at pairing
    await kvValue<{ value: unknown }>(bus, 'sentinel_state', ids['light-1']!, (s) => s.value === false);
  });

  it('sentinel.cmd switches the light itself, and answers once the device did', async () => {
    expect(await command(ids['light-1']!, { value: true })).toEqual({ ok: true });
    expect(await light.isOn()).toBe(true);
    expect(await command(ids['light-1']!, { action: 'toggle' })).toEqual({ ok: true });
    expect(await light.isOn()).toBe(false);
    // brightness: MoveToLevelWithOnOff turns it on at that level, reported back in percent
    const states = await collect<{ value: unknown }>(bus, `sentinel.state.${ids['brightness-1']}`);
    expect(await command(ids['brightness-1']!, { value: 40 })).toEqual({ ok: true });
    expect(await light.isOn()).toBe(true);
    await states.next((s) => s.value === 40);
    states.stop();
  });

  it('a change made on the device shows up on sentinel.state', async () => {
    const states = await collect<{ value: unknown; source: { protocol: string } }>(
      bus,
      `sentinel.state.${ids['light-1']}`,
    );
    await light.setOn(false);
    const state = await states.next((s) => s.value === false);
    expect(state.source).toMatchObject({ protocol: 'matter', device_id: deviceId, key: 'light-1' });
    await light.setOn(true);
    await states.next((s) => s.value === true);
    states.stop();
  });

  it('refuses what the light cannot do, before it reaches the device', async () => {
    expect(await command(ids['light-1']!, { value: { color_temp_kelvin: 2700 } })).toMatchObject({
      ok: false,
      error: { code: 'not_supported' },
    });
    expect(await command(ids['light-1']!, { value: { blink: true } })).toMatchObject({
      ok: false,
      error: { code: 'invalid' },
    });
  });

  it('the bridge going away makes the entities unavailable; when it is back they are again', async () => {
    const availability = await collect<{ available: boolean }>(
      bus,
      `sentinel.entity.${ids['light-1']}.availability`,
    );
    const port = bridge.port;
    await bridge.close();
    await availability.next((a) => a.available === false);
    await device((d) => !d.online);
    expect(await command(ids['light-1']!, { value: true })).toMatchObject({
      ok: false,
      error: { code: 'unavailable' },
    });
    bridge = await startBridge(port);
    await availability.next((a) => a.available === true, 30_000);
    await device((d) => d.online);
    // and commands flow again, through the restarted controller
    expect(await command(ids['light-1']!, { value: false })).toEqual({ ok: true });
    expect(await light.isOn()).toBe(false);
    availability.stop();
  }, 60_000);

  it('removing the node removes the device; its entities stay, unavailable', async () => {
    api.close();
    api = await MatterApiClient.connect(bridge.url);
    const availability = await collect<{ available: boolean }>(
      bus,
      `sentinel.entity.${ids['light-1']}.availability`,
    );
    const node = BigInt(deviceId.slice('matter-'.length));
    await api.request('remove_node', { node_id: node }, 30_000);
    await availability.next((a) => a.available === false);
    await until(async () => (gateway.logs.some((l) => l.msg === 'Matter node removed') ? true : undefined));
    const all = await (await gateway.api('/api/devices')).json();
    expect(JSON.stringify(all)).not.toContain(deviceId);
    expect(await command(ids['light-1']!, { value: true })).toMatchObject({
      ok: false,
      error: { code: 'unavailable' },
    });
    availability.stop();
  }, 40_000);
});
