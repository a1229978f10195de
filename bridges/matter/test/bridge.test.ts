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
import {
  directoryStorage,
  ErrorCode,
  type MatterController,
  type MatterNodeData,
  type MatterServer,
  startMatterServer,
} from '../src/index.js';
import { ApiClient, type Event } from './support.js';

// One controller and one simulated light for the whole file: pairing is the slow part,
// and the steps below are one device's life (pair, command, report, read, remove).
describe('matter bridge over its WebSocket API, with a simulated light on loopback', () => {
  let dir: string;
  let light: SimulatedDevice;
  let server: MatterServer;
  let controller: MatterController;
  let client: ApiClient;
  let nodeId: number | bigint;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-matter-'));
    light = await startSimulatedDevice({ type: 'on-off-light', passcode: 20202021, discriminator: 3840 });
    server = await startMatterServer({ storage: directoryStorage(dir), loopbackOnly: true, apiPort: 0 });
    controller = server.controller;
    client = new ApiClient(server.url);
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    await light?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log('matter timings (ms):', timings);
  });

  const address = () => ({ ip_addr: light.host, port: light.port });
  const isAttribute = (path: string, value: unknown) => (e: Event) =>
    e.event === 'attribute_updated' &&
    Array.isArray(e.data) &&
    e.data[0] === nodeId &&
    e.data[1] === path &&
    e.data[2] === value;

  it('sends ServerInfo on connect', async () => {
    const info = await client.serverInfo;
    expect(info).toMatchObject({
      schema_version: 13,
      min_supported_schema_version: 11,
      wifi_credentials_set: false,
      thread_credentials_set: false,
      bluetooth_enabled: false,
    });
    // 64-bit ids arrive exact (bigint beyond 2^53, number below)
    expect(BigInt(info.fabric_id as number | bigint)).toBe(controller.fabricId);
    expect(BigInt(info.compressed_fabric_id as number | bigint)).toBe(controller.compressedFabricId);
    expect(await client.result('start_listening')).toEqual([]);
  });

  it('prints a setup code and QR payload for the simulated device', () => {
    expect(light.manualPairingCode).toMatch(/^\d{11}$/);
    expect(light.qrPairingCode).toMatch(/^MT:/);
  });

  it('refuses a wrong passcode with NodeCommissionFailed and leaves no node behind', async () => {
    const answer = await client.request('commission_with_code', { code: wrongCode(), ...address() });
    expect(answer.error_code).toBe(ErrorCode.NodeCommissionFailed);
    expect(await client.result('get_nodes')).toEqual([]);
    expect(await light.fabricCount()).toBe(0);
  });

  it('commissions by manual code at a known address and announces node_added', async () => {
    const started = performance.now();
    const node = await client.result<MatterNodeData>('commission_with_code', {
      code: light.manualPairingCode,
      ...address(),
    });
    timings.commission = Math.round(performance.now() - started);
    nodeId = node.node_id;
    expect(BigInt(nodeId)).toBeGreaterThan(0n);
    const added = await client.event((e) => e.event === 'node_added');
    expect((added.data as MatterNodeData).node_id).toBe(nodeId);
    expect(node.attributes['1/6/0']).toBe(false);
    expect(node.attributes['0/40/1']).toBe('Sentinel Edge');
    expect(await light.fabricCount()).toBe(1);
    const nodes = await client.result<MatterNodeData[]>('get_nodes');
    expect(nodes.map((n) => n.node_id)).toEqual([nodeId]);
  });

  it('toggles the light with device_command and reports attribute_updated', async () => {
    const started = performance.now();
    const result = await client.result('device_command', {
      node_id: nodeId,
      endpoint_id: 1,
      cluster_id: 6,
      command_name: 'Toggle',
      payload: {},
    });
    timings.toggle = Math.round(performance.now() - started);
    expect(result).toBeNull();
    expect(await light.isOn()).toBe(true);
    await client.event(isAttribute('1/6/0', true));
    timings.toggleToEvent = Math.round(performance.now() - started);
  });

  it('reports a change made on the device as attribute_updated', async () => {
    await light.setOn(false);
    await client.event(isAttribute('1/6/0', false));
  });

  it('reads an attribute by path, with wildcards', async () => {
    expect(await client.result('read_attribute', { node_id: nodeId, attribute_path: '1/6/0' })).toEqual({
      '1/6/0': false,
    });
    const onOff = await client.result<Record<string, unknown>>('read_attribute', {
      node_id: nodeId,
      attribute_path: '1/6/*',
    });
    expect(onOff['1/6/0']).toBe(false);
    expect(onOff['1/6/65533']).toBeTypeOf('number');
    // tag-based values, as python-matter-server reports them: bitmaps as numbers
    // (featureMap: Lighting), structs keyed by field id (Descriptor's DeviceTypeList)
    expect(onOff['1/6/65532']).toBe(1);
    const types = await client.result<Record<string, unknown>>('read_attribute', {
      node_id: nodeId,
      attribute_path: '1/29/0',
    });
    expect(types['1/29/0']).toEqual([{ '0': 0x0100, '1': 3 }]);
  });

  it('pings the node', async () => {
    const result = await client.result<Record<string, boolean>>('ping_node', { node_id: nodeId });
    expect(Object.values(result)).toContain(true);
  });

  it('answers malformed messages and unknown commands with error codes, and keeps going', async () => {
    expect((await client.sendRaw('{"message_id":"x1","command":', '')).error_code).toBe(
      ErrorCode.InvalidArguments,
    );
    expect((await client.request('no_such_command')).error_code).toBe(ErrorCode.InvalidCommand);
    expect((await client.request('get_node', { node_id: 'one' })).error_code).toBe(
      ErrorCode.InvalidArguments,
    );
    expect((await client.request('get_node', { node_id: 424242 })).error_code).toBe(ErrorCode.NodeNotExists);
    expect(
      (await client.request('read_attribute', { node_id: nodeId, attribute_path: '1/6' })).error_code,
    ).toBe(ErrorCode.InvalidArguments);
    expect(
      (
        await client.request('device_command', {
          node_id: nodeId,
          endpoint_id: 1,
          cluster_id: 6,
          command_name: 'Fly',
        })
      ).error_code,
    ).toBe(ErrorCode.InvalidArguments);
    const node = await client.result<MatterNodeData>('get_node', { node_id: nodeId });
    expect(node.node_id).toBe(nodeId);
  });

  it('removes the node: node_removed, and the device has left our fabric', async () => {
    expect(await client.result('remove_node', { node_id: nodeId })).toBeNull();
    const removed = await client.event((e) => e.event === 'node_removed');
    expect(removed.data).toBe(nodeId);
    expect(await light.fabricCount()).toBe(0);
    expect(await client.result('get_nodes')).toEqual([]);
    expect((await client.request('remove_node', { node_id: nodeId })).error_code).toBe(
      ErrorCode.NodeNotExists,
    );
  });

  it('commissions again by QR payload once the device is factory-fresh, and removes it', async () => {
    await light.whenCommissionable();
    const node = await client.result<MatterNodeData>('commission_with_code', {
      code: light.qrPairingCode,
      ...address(),
    });
    expect(BigInt(node.node_id)).not.toBe(BigInt(nodeId));
    await client.event((e) => e.event === 'node_added');
    await client.result('remove_node', { node_id: node.node_id });
    await client.event((e) => e.event === 'node_removed');
    expect(await light.fabricCount()).toBe(0);
  });
});

/** A valid manual code for the light's discriminator with a passcode it does not have. */
function wrongCode(): string {
  return ManualPairingCodeCodec.encode({ discriminator: 3840, passcode: 20202022 });
}
