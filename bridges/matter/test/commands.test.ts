// The rest of the matter server's commands and events over the WebSocket API (bridge.test.ts
// covers pairing, device_command, read and removal): write_attribute, interview_node,
// diagnostics, node_event, vendor names, IP addresses, network credentials,
// commission_on_network, open_commissioning_window (a second controller pairs the same
// device), endpoints coming and going on a bridge, server_shutdown, and the bad input around
// them. One paired contact sensor, one dimmable light and one bridge serve the whole file:
// pairing is the slow part.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { ManualPairingCodeCodec } from '@matter/main/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SimulatedMatterDevice,
  startSimulatedMatterDevice,
} from '../../../simulators/src/matter/index.js';
import {
  ErrorCode,
  MatterController,
  type MatterNodeData,
  type MatterServer,
  memoryStorage,
  startMatterServer,
  stringifyMatterJson,
} from '../src/index.js';
import { startTestBridgeDevice, type TestBridgeDevice } from './bridge-device.js';
import { ApiClient, type Event } from './support.js';

describe('matter server commands beyond pairing and device_command', () => {
  let server: MatterServer;
  let client: ApiClient;
  let sensor: SimulatedMatterDevice;
  let light: SimulatedMatterDevice;
  let bridge: TestBridgeDevice;
  let sensorId: number | bigint;
  let lightId: number | bigint;

  beforeAll(async () => {
    [sensor, light, bridge, server] = await Promise.all([
      startSimulatedMatterDevice({ type: 'contact-sensor', passcode: 20202031, discriminator: 1001 }),
      startSimulatedMatterDevice({ type: 'dimmable-light', passcode: 20202032, discriminator: 1002 }),
      startTestBridgeDevice(20202033, 1003),
      startMatterServer({ storage: memoryStorage(), loopbackOnly: true, apiPort: 0 }),
    ]);
    client = new ApiClient(server.url);
    await client.serverInfo;
    await client.result('start_listening');
    const node = await client.result<MatterNodeData>('commission_with_code', {
      code: sensor.manualPairingCode,
      ip_addr: '127.0.0.1',
      port: sensor.port,
    });
    sensorId = node.node_id;
  });

  afterAll(async () => {
    client?.close();
    await sensor?.stop();
    await light?.stop();
    await bridge?.stop();
    await server?.close();
  });

  const failure = async (command: string, args: Record<string, unknown>) =>
    (await client.request(command, args)).error_code;

  it('commission_on_network: passcode and long discriminator at a known address; wrong ones refused', async () => {
    expect(await failure('commission_on_network', { setup_pin_code: 20202032, filter_type: 2 })).toBe(
      ErrorCode.InvalidArguments,
    );
    expect(await failure('commission_on_network', { setup_pin_code: 'x' })).toBe(ErrorCode.InvalidArguments);
    expect(
      await failure('commission_on_network', {
        setup_pin_code: 20202099,
        filter_type: 2,
        filter: 1002,
        ip_addr: '127.0.0.1',
        port: light.port,
      }),
    ).toBe(ErrorCode.NodeCommissionFailed);
    const node = await client.result<MatterNodeData>('commission_on_network', {
      setup_pin_code: 20202032,
      filter_type: 2,
      filter: 1002,
      ip_addr: '127.0.0.1',
      port: light.port,
    });
    lightId = node.node_id;
    // LevelControl's CurrentLevel is there (null until first set)
    expect(node.attributes).toHaveProperty(['1/8/0']);
    expect(await light.fabricCount()).toBe(1);
    // dates as the matter server writes them: local time with microseconds, no zone
    expect(node.date_commissioned).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  });

  it('write_attribute writes on the device: status 0, attribute_updated, read back', async () => {
    const result = await client.result('write_attribute', {
      node_id: lightId,
      attribute_path: '0/40/5',
      value: 'Kitchen',
    });
    expect(result).toEqual([{ Path: { EndpointId: 0, ClusterId: 40, AttributeId: 5 }, Status: 0 }]);
    await client.event(attribute(lightId, '0/40/5', 'Kitchen'));
    expect(await client.result('read_attribute', { node_id: lightId, attribute_path: '0/40/5' })).toEqual({
      '0/40/5': 'Kitchen',
    });
  });

  it('write_attribute: the device refuses a read-only attribute with its Matter status', async () => {
    const [entry] = await client.result<Array<{ Status: number }>>('write_attribute', {
      node_id: lightId,
      attribute_path: '0/40/1',
      value: 'Not Sentinel',
    });
    // UNSUPPORTED_WRITE (0x88)
    expect(entry?.Status).toBe(0x88);
    const read = await client.result('read_attribute', { node_id: lightId, attribute_path: '0/40/1' });
    expect(read).toEqual({ '0/40/1': 'Sentinel Edge' });
  });

  it('write_attribute bad input: wildcards, unknown attribute, unknown node, bad path', async () => {
    const base = { node_id: lightId, value: 1 };
    expect(await failure('write_attribute', { ...base, attribute_path: '0/40/*' })).toBe(
      ErrorCode.InvalidArguments,
    );
    expect(await failure('write_attribute', { ...base, attribute_path: '0/40/4242' })).toBe(
      ErrorCode.InvalidArguments,
    );
    expect(await failure('write_attribute', { ...base, attribute_path: 'a/b/c' })).toBe(
      ErrorCode.InvalidArguments,
    );
    expect(await failure('write_attribute', { ...base, node_id: 999, attribute_path: '0/40/5' })).toBe(
      ErrorCode.NodeNotExists,
    );
  });

  it('a command the node answers with a Matter status error is SDKStackError with the status', async () => {
    // RevokeCommissioning must come as a timed request: the device answers NEEDS_TIMED_INTERACTION
    const answer = await client.request('device_command', {
      node_id: lightId,
      endpoint_id: 0,
      cluster_id: 60,
      command_name: 'RevokeCommissioning',
      payload: {},
    });
    expect(answer.error_code).toBe(ErrorCode.SDKStackError);
    expect(answer.details).toMatch(/RevokeCommissioning failed/);
    // the node is fine afterwards
    expect(await client.result('ping_node', { node_id: lightId })).toEqual({ '127.0.0.1': true });
  });

  it('node_event: the contact sensor reports a StateChange event, kept for diagnostics', async () => {
    await sensor.setContact(true);
    const event = await client.event(
      (e) => e.event === 'node_event' && (e.data as { cluster_id: number }).cluster_id === 0x45,
    );
    expect(event.data).toMatchObject({
      node_id: sensorId,
      endpoint_id: sensor.endpoint,
      cluster_id: 0x45,
      event_id: 0,
      data: { stateValue: true },
    });
    const diagnostics = await client.result<{
      info: Record<string, unknown>;
      nodes: unknown[];
      events: unknown[];
    }>('diagnostics');
    expect(diagnostics.info).toMatchObject({ schema_version: 13, fabric_index: 1 });
    expect(diagnostics.nodes).toHaveLength(2);
    expect(diagnostics.events).toContainEqual(event.data);
  });

  it('interview_node reads the node again and reports node_updated with a new last_interview', async () => {
    const before = await client.result<MatterNodeData>('get_node', { node_id: sensorId });
    await new Promise((resolve) => setTimeout(resolve, 5)); // the interview date must be able to move
    expect(await client.result('interview_node', { node_id: sensorId })).toBeNull();
    const updated = await client.event(
      (e) => e.event === 'node_updated' && (e.data as MatterNodeData).node_id === sensorId,
    );
    expect((updated.data as MatterNodeData).last_interview > before.last_interview).toBe(true);
    expect(await failure('interview_node', { node_id: 31337 })).toBe(ErrorCode.NodeNotExists);
  });

  it('get_vendor_names from what the nodes say, get_node_ip_addresses', async () => {
    expect(await client.result('get_vendor_names', {})).toEqual({ '65521': 'Sentinel Edge' });
    expect(await client.result('get_vendor_names', { filter_vendors: [4937] })).toEqual({});
    expect(await failure('get_vendor_names', { filter_vendors: ['a'] })).toBe(ErrorCode.InvalidArguments);
    expect(await client.result('get_node_ip_addresses', { node_id: sensorId })).toEqual(['127.0.0.1']);
  });

  it('set_wifi_credentials / set_thread_dataset: kept, shown in ServerInfo, secrets never echoed', async () => {
    expect(await failure('set_wifi_credentials', { ssid: 'x'.repeat(33), credentials: 'secret-pass' })).toBe(
      ErrorCode.InvalidArguments,
    );
    expect(await failure('set_thread_dataset', { dataset: 'not hex' })).toBe(ErrorCode.InvalidArguments);
    expect(await client.result('set_wifi_credentials', { ssid: 'home', credentials: 'secret-pass' })).toEqual(
      {},
    );
    expect(await client.result('set_thread_dataset', { dataset: '0e080000000000010000' })).toEqual({});
    const info = await client.result<Record<string, unknown>>('server_info');
    expect(info).toMatchObject({
      wifi_credentials_set: true,
      wifi_ssid: 'home',
      thread_credentials_set: true,
    });
    expect(stringifyMatterJson(info)).not.toContain('secret-pass');
  });

  it('open_commissioning_window: a second controller pairs the same light with the codes', async () => {
    const window = await client.result<{
      setup_pin_code: number;
      setup_manual_code: string;
      setup_qr_code: string;
    }>('open_commissioning_window', { node_id: lightId, discriminator: 1234 });
    expect(window.setup_manual_code).toMatch(/^\d{11}$/);
    expect(window.setup_qr_code).toMatch(/^MT:/);
    expect(ManualPairingCodeCodec.decode(window.setup_manual_code).passcode).toBe(window.setup_pin_code);
    const other = await MatterController.start({ storage: memoryStorage(), loopbackOnly: true });
    try {
      const second = await other.commission(window.setup_manual_code, { ip: '127.0.0.1', port: light.port });
      expect(await light.fabricCount()).toBe(2);
      // and it leaves again, so only our fabric stays
      await other.remove(second.node_id);
      expect(await light.fabricCount()).toBe(1);
    } finally {
      await other.close();
    }
    expect(await failure('open_commissioning_window', { node_id: lightId, timeout: 10 })).toBe(
      ErrorCode.InvalidArguments,
    );
  });

  it('endpoint_added / endpoint_removed: a bridge gains and loses a bridged light at run time', async () => {
    const node = await client.result<MatterNodeData>('commission_with_code', {
      code: bridge.manualPairingCode,
      ip_addr: '127.0.0.1',
      port: bridge.port,
    });
    expect(node.is_bridge).toBe(true);
    const bridgeId = node.node_id;
    const endpointEvent = (event: string, endpoint: number) => (e: Event) =>
      e.event === event &&
      (e.data as { node_id: unknown }).node_id === bridgeId &&
      (e.data as { endpoint_id: unknown }).endpoint_id === endpoint;

    const lamp = await bridge.addLight('lamp');
    expect(node.attributes).not.toHaveProperty([`${lamp}/6/0`]);
    await client.event(endpointEvent('endpoint_added', lamp));
    const grown = await client.result<MatterNodeData>('get_node', { node_id: bridgeId });
    expect(grown.attributes[`${lamp}/6/0`]).toBe(false);
    // and it is a device like any other: commandable on its new endpoint
    await client.result('device_command', {
      node_id: bridgeId,
      endpoint_id: lamp,
      cluster_id: 6,
      command_name: 'On',
      payload: {},
    });
    await client.event(attribute(bridgeId, `${lamp}/6/0`, true));

    await bridge.removeLight(lamp);
    await client.event(endpointEvent('endpoint_removed', lamp));
    const shrunk = await client.result<MatterNodeData>('get_node', { node_id: bridgeId });
    expect(Object.keys(shrunk.attributes).filter((path) => path.startsWith(`${lamp}/`))).toEqual([]);
    expect(shrunk.attributes['0/40/3']).toBe('Test bridge');
  });

  it('server_shutdown reaches every client when the server stops', async () => {
    const bystander = new ApiClient(server.url);
    await bystander.serverInfo;
    const shutdown = bystander.event((e: Event) => e.event === 'server_shutdown');
    // devices first: a device closing after its controller waits out its subscriptions
    await Promise.all([sensor.stop(), light.stop(), bridge.stop()]);
    await server.close();
    expect((await shutdown).data).toEqual({});
    bystander.close();
  });
});

describe('a device vanishing mid-commissioning', () => {
  it('fails with NodeCommissionFailed, keeps no node, and the next pairing works', async () => {
    const device = await startSimulatedMatterDevice({
      type: 'on-off-light',
      passcode: 20202041,
      discriminator: 1041,
    });
    // a relay that passes the first few datagrams of the PASE handshake, then goes silent
    const relay = await udpRelay(device.port, 3);
    const controller = await MatterController.start({
      storage: memoryStorage(),
      loopbackOnly: true,
      commissionTimeoutMs: 3_000,
    });
    let other: SimulatedMatterDevice | undefined;
    try {
      const attempt = controller.commission(device.manualPairingCode, { ip: '127.0.0.1', port: relay.port });
      await expect(attempt).rejects.toMatchObject({ code: ErrorCode.NodeCommissionFailed });
      expect(relay.forwarded()).toBe(3);
      expect(controller.nodes()).toEqual([]);
      expect(await device.fabricCount()).toBe(0);
      // the controller is not stuck: another device pairs
      other = await startSimulatedMatterDevice({
        type: 'on-off-plug',
        passcode: 20202042,
        discriminator: 1042,
      });
      await controller.commission(other.manualPairingCode, { ip: '127.0.0.1', port: other.port });
      expect(controller.nodes()).toHaveLength(1);
    } finally {
      relay.close();
      await device.stop();
      await other?.stop();
      await controller.close();
    }
  });
});

const attribute = (nodeId: unknown, path: string, value: unknown) => (e: Event) =>
  e.event === 'attribute_updated' &&
  Array.isArray(e.data) &&
  e.data[0] === nodeId &&
  e.data[1] === path &&
  e.data[2] === value;

/** UDP on 127.0.0.1 to `target`, both ways, for the first `limit` datagrams from the controller. */
async function udpRelay(target: number, limit: number) {
  const front: Socket = createSocket('udp4');
  const back: Socket = createSocket('udp4');
  let peer: RemoteInfo | undefined;
  let count = 0;
  front.on('message', (message, from) => {
    peer = from;
    if (count >= limit) return;
    count += 1;
    back.send(message, target, '127.0.0.1');
  });
  back.on('message', (message) => {
    if (peer && count <= limit) front.send(message, peer.port, peer.address);
  });
  await Promise.all([
    new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve)),
    new Promise<void>((resolve) => back.bind(0, '127.0.0.1', resolve)),
  ]);
  return {
    port: front.address().port,
    forwarded: () => count,
    close() {
      front.close();
      back.close();
    },
  };
}
