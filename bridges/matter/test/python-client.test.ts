// Home Assistant's own client for the matter server (`matter_server.client`, shipped in the
// matterjs-server repository's python_client folder with the pure-Python chip.clusters it
// needs), unmodified, against our bridge and a simulated light: the acceptance of issue 12
// that "clients of that API work with it unchanged".
//
// SENTINEL_MATTER_CLIENT names the client's checkout and SENTINEL_MATTER_PYTHON a Python
// 3.12+ with aiohttp, orjson and dacite (python/client.ts); without them these tests skip,
// saying why. How to prepare them: docs/matter.md, "Checking with Home Assistant's client".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SimulatedMatterDevice as SimulatedDevice,
  startSimulatedMatterDevice as startSimulatedDevice,
} from '../../../simulators/src/matter/index.js';
import { ErrorCode, type MatterServer, memoryStorage, startMatterServer } from '../src/index.js';
import { Driver, findPythonClient } from './python/client.js';

const found = findPythonClient();
if (found.skipReason)
  console.log(`Home Assistant client tests skipped: ${found.skipReason} — see docs/matter.md`);

describe.skipIf(found.skipReason !== undefined)(
  "Home Assistant's matter server client (matter_server.client), unmodified, against the bridge",
  () => {
    let light: SimulatedDevice;
    let server: MatterServer;
    let driver: Driver;
    let nodeId: number;

    beforeAll(async () => {
      light = await startSimulatedDevice({ type: 'on-off-light' });
      server = await startMatterServer({ storage: memoryStorage(), loopbackOnly: true, apiPort: 0 });
      // loopback has no mDNS: the client's generic send_command carries our ip_addr/port
      // extension (the mDNS path, the client's own commission_with_code, is in mdns.test.ts)
      driver = new Driver(found.python, found.clientDir, [
        '--url',
        server.url,
        '--code',
        light.manualPairingCode,
        '--ip',
        light.host ?? '127.0.0.1',
        '--port',
        String(light.port),
      ]);
    });

    afterAll(async () => {
      driver?.kill();
      await server?.close();
      await light?.stop();
    });

    it('connects: the client accepts our ServerInfo and the start_listening node list', async () => {
      const step = await driver.next('connect');
      expect(step).toMatchObject({ schema_version: 13, min_supported_schema_version: 11, nodes: 0 });
      expect(BigInt(step.fabric_id as bigint)).toBe(server.controller.fabricId);
      expect(BigInt(step.compressed_fabric_id as bigint)).toBe(server.controller.compressedFabricId);
    });

    it("maps our error codes to the client's exceptions", async () => {
      const step = await driver.next('errors');
      expect(step.get_unknown_node).toMatchObject({
        exception: 'NodeNotExists',
        error_code: ErrorCode.NodeNotExists,
      });
      expect(step.read_unknown_node).toMatchObject({ exception: 'NodeNotExists' });
      expect(step.unknown_command).toMatchObject({
        exception: 'InvalidCommand',
        error_code: ErrorCode.InvalidCommand,
      });
    });

    it('commissions the light by code; the client builds the node from node_added', async () => {
      const step = await driver.next('commission');
      nodeId = step.node_id as number;
      expect(step).toMatchObject({
        same_node: true,
        available: true,
        vendor_name: 'Sentinel Edge',
        light_endpoint: light.endpoint,
        on: false,
        nodes: [nodeId],
      });
      // the client recognises the device type from the Descriptor cluster
      expect(step.device_types).toContain('OnOffLight');
      expect(await light.fabricCount()).toBe(1);
    });

    it('toggles the light with the OnOff.Toggle command object', async () => {
      const step = await driver.next('toggle');
      expect(step.result).toBeNull();
      expect(await light.isOn()).toBe(true);
    });

    it('receives attribute_updated and updates its node cache', async () => {
      const step = await driver.next('attribute_updated');
      expect(step).toMatchObject({ path: `${light.endpoint}/6/0`, value: true, cached: true });
    });

    it('sees a change made on the device itself', async () => {
      await driver.next('device_change_ready');
      await light.setOn(false);
      expect(await driver.next('device_change')).toMatchObject({ value: false });
    });

    it('reads the attribute back', async () => {
      const step = await driver.next('read_attribute');
      expect(step.values).toEqual({ [`${light.endpoint}/6/0`]: false });
    });

    it("answers what Home Assistant's device page asks: ping, addresses, diagnostics, interview", async () => {
      const step = await driver.next('extras');
      console.log(
        'extras as the client took them:',
        JSON.stringify(step, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      );
      const ping = step.ping_node as { result?: Record<string, boolean> };
      expect(Object.values(ping.result ?? {})).toContain(true);
      for (const call of [
        'get_node_ip_addresses',
        'get_matter_fabrics',
        'node_diagnostics',
        'get_diagnostics',
        'interview_node',
      ]) {
        expect(step[call], call).not.toHaveProperty('exception');
      }
    });

    it('removes the node: node_removed, and the device has left our fabric', async () => {
      const step = await driver.next('remove_node');
      expect(step).toMatchObject({ removed: nodeId, nodes: [] });
      expect(await light.fabricCount()).toBe(0);
      // nothing we sent made the client warn (a value it could not parse, a missing cluster)
      expect((await driver.next('disconnect')).warnings).toEqual([]);
      expect(await driver.exit()).toBe(0);
    });
  },
);
