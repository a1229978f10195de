import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualPairingCodeCodec } from '@matter/main/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// the simulated devices live in @sentinel/simulators (it may not import this package, nor this one it)
import {
  type SimulatedMatterDevice as SimulatedDevice,
  startSimulatedMatterDevice as startSimulatedDevice,
} from '../../../simulators/src/matter/index.js';
import { directoryStorage, ErrorCode, MatterController, type MatterNodeData } from '../src/index.js';

// The other simulated device types, driven through the controller directly (the
// WebSocket layer is covered by bridge.test.ts).
describe('simulated dimmable light and contact sensor', () => {
  let dir: string;
  let controller: MatterController;
  const devices: SimulatedDevice[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-matter-'));
    controller = await MatterController.start(options());
  });

  afterAll(async () => {
    // devices first: a device closing after its controller waits for its subscriptions
    for (const device of devices) await device.stop();
    await controller?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const options = () => ({ storage: directoryStorage(dir), loopbackOnly: true, commissionTimeoutMs: 2_000 });

  it('fails to commission an unreachable device with NodeCommissionFailed and keeps no node', async () => {
    const nobody = await freeUdpPort();
    const code = ManualPairingCodeCodec.encode({ discriminator: 3840, passcode: 20202021 });
    const attempt = controller.commission(code, { ip: '127.0.0.1', port: nobody });
    await expect(attempt).rejects.toMatchObject({ code: ErrorCode.NodeCommissionFailed });
    expect(controller.nodes()).toEqual([]);
  });

  const pair = async (type: 'dimmable-light' | 'contact-sensor', discriminator: number) => {
    const device = await startSimulatedDevice({ type, passcode: 20202021 + discriminator, discriminator });
    devices.push(device);
    const node = await controller.commission(device.manualPairingCode, {
      ip: device.host ?? '127.0.0.1',
      port: device.port,
    });
    return { device, node };
  };

  const nextUpdate = (nodeId: bigint, path: string) =>
    new Promise<unknown>((resolve) => {
      const listener = (id: bigint, p: string, value: unknown) => {
        if (id !== nodeId || p !== path) return;
        controller.off('attribute_updated', listener);
        resolve(value);
      };
      controller.on('attribute_updated', listener);
    });

  it('dims a dimmable light with MoveToLevelWithOnOff (plain MoveToLevel is ignored while off)', async () => {
    const { node } = await pair('dimmable-light', 101);
    expect(node.attributes).toHaveProperty(['1/8/0']); // currentLevel: null until first set
    const level = nextUpdate(node.node_id, '1/8/0');
    await controller.invoke(node.node_id, 1, 8, 'MoveToLevelWithOnOff', {
      level: 42,
      transitionTime: 0,
      optionsMask: {},
      optionsOverride: {},
    });
    expect(await level).toBe(42);
    expect(controller.read(node.node_id, [{ endpoint: 1, cluster: 8, attribute: 0 }])).toEqual({
      '1/8/0': 42,
    });
  });

  it('reports a contact sensor opening and closing', async () => {
    const { device, node }: { device: SimulatedDevice; node: MatterNodeData } = await pair(
      'contact-sensor',
      202,
    );
    const closed = nextUpdate(node.node_id, '1/69/0');
    await device.setContact(true);
    expect(await closed).toBe(true);
    const open = nextUpdate(node.node_id, '1/69/0');
    await device.setContact(false);
    expect(await open).toBe(false);
  });
  it('a restarted controller reloads its node and network credentials from storage, reaches the node at its last known address', async () => {
    const light = await startSimulatedDevice({
      type: 'on-off-light',
      passcode: 20202099,
      discriminator: 303,
    });
    devices.push(light);
    const node = await controller.commission(light.manualPairingCode, {
      ip: light.host ?? '127.0.0.1',
      port: light.port,
    });
    await controller.setWifiCredentials('default', {
      ssid: 'sentinel-home',
      credentials: 'a-wpa-passphrase',
    });
    await controller.setThreadDataset('default', '0E080000000000010000');
    await controller.close();
    controller = await MatterController.start(options());
    expect(controller.nodes().map((n) => n.node_id)).toContain(node.node_id);
    expect(controller.wifiSsid).toBe('sentinel-home');
    expect(controller.threadCredentialsSet).toBe(true);
    await controller.invoke(node.node_id, 1, 6, 'On', null);
    expect(await light.isOn()).toBe(true);
  });
});

/** A UDP port nobody listens on (bound, read, released). */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
