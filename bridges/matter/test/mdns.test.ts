// Commissioning by setup code alone, the device found by mDNS: the bridge in one private
// network namespace, a simulated light in another, joined by a veth pair (matter.js sends
// no mDNS on `lo`, so loopback tests give the address instead). Nothing leaves the
// machine: the namespaces have no route anywhere but to each other.
//
// Both sides are separate processes running the built dist/ (npm run build, done by the
// vitest globalSetup): the bridge is `sentinel matter-server`, the lights plain matter.js
// OnOffLights advertising on the veth (`sentinel simulate matter` keeps to loopback), the
// second one for Home Assistant's client (python/client.ts) when SENTINEL_MATTER_CLIENT is set.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENTINEL_BIN } from '../../../test/support/cli.js';
import { createNetnsPair, type NetnsPair, netnsSkipReason } from '../../../test/support/netns.js';
import type { MatterNodeData } from '../src/index.js';
import { Driver, findPythonClient } from './python/client.js';
import { ApiClient } from './support.js';

const WORKSPACE = fileURLToPath(new URL('..', import.meta.url));
const PASSCODE = 20202021;

/**
 * A matter.js light advertising itself by mDNS on the veth. It answers "state" on stdin
 * with its on/off state and fabric count, so the test can see what reached the device.
 */
const LIGHT = `
import { createInterface } from 'node:readline';
import { ServerNode, VendorId } from '@matter/main';
import { OnOffLightDevice } from '@matter/main/devices/on-off-light';
const [passcode, discriminator, port] = process.argv.slice(1).map(Number);
const node = await ServerNode.create({
  id: \`mdns-light-\${discriminator}\`,
  network: { port },
  commissioning: { passcode, discriminator },
  productDescription: { name: 'Sentinel mDNS light', deviceType: OnOffLightDevice.deviceType },
  basicInformation: {
    vendorName: 'Sentinel Edge', vendorId: VendorId(0xfff1), nodeLabel: 'mDNS light',
    productName: 'mDNS light', productId: 0x8000, serialNumber: \`MDNS-\${discriminator}\`, uniqueId: \`mdns-\${discriminator}\`,
  },
});
const light = await node.add(OnOffLightDevice, { id: 'app' });
await node.start();
const { manualPairingCode, qrPairingCode } = node.state.commissioning.pairingCodes;
console.log(JSON.stringify({ manualPairingCode, qrPairingCode, endpoint: light.number }));
// kept from the change events: a light that left its last fabric resets to factory
// defaults, and its state cannot be read while it does
let on = light.state.onOff.onOff;
let fabrics = node.state.operationalCredentials.commissionedFabrics;
light.events.onOff.onOff$Changed.on((value) => { on = value; });
node.events.operationalCredentials.commissionedFabrics$Changed.on((count) => { fabrics = count; });
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'state') console.log(JSON.stringify({ on, fabrics }));
  // a change made on the device itself (a wall switch)
  if (line === 'on' || line === 'off') await light.set({ onOff: { onOff: line === 'on' } });
}
await node.close();
process.exit(0);
`;

/** A child's JSON lines on stdout, one at a time (matter.js logs to stdout too: kept for errors). */
function jsonLines(child: ChildProcess): () => Promise<Record<string, unknown>> {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  let log = '';
  child.stderr?.on('data', (d) => {
    log += d;
  });
  return async () => {
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error(`the process ended early:\n${log.slice(-3000)}`);
      if (value.startsWith('{')) return JSON.parse(value) as Record<string, unknown>;
      log += `${value}\n`;
    }
  };
}

/** One light process in the device namespace, and what it reports. */
interface Light {
  readonly child: ChildProcess;
  readonly manualPairingCode: string;
  readonly endpoint: number;
  /** its Basic Information serial number, to tell which light a node is */
  readonly serial: string;
  state(): Promise<{ on: boolean; fabrics: number }>;
  /** a change made on the device itself */
  set(on: boolean): void;
}

async function startLight(
  net: NetnsPair,
  storage: string,
  discriminator: number,
  port: number,
): Promise<Light> {
  const child = net.b.spawn(
    process.execPath,
    ['--input-type=module', '-e', LIGHT, String(PASSCODE), String(discriminator), String(port)],
    // matter.js keeps a device's state on disk by default: a fresh directory per run
    { cwd: WORKSPACE, env: { ...process.env, MATTER_STORAGE_PATH: storage }, stdio: 'pipe' },
  );
  const next = jsonLines(child);
  const ready = (await next()) as { manualPairingCode: string; endpoint: number };
  return {
    child,
    ...ready,
    serial: `MDNS-${discriminator}`,
    async state() {
      child.stdin?.write('state\n');
      return (await next()) as { on: boolean; fabrics: number };
    },
    set(on) {
      child.stdin?.write(on ? 'on\n' : 'off\n');
    },
  };
}

const skipReason = netnsSkipReason();
if (skipReason) console.log(`mDNS commissioning tests skipped: ${skipReason}`);
const python = findPythonClient();

describe.skipIf(skipReason !== undefined)(
  'commissioning by code with mDNS discovery, across a veth pair',
  () => {
    let net: NetnsPair;
    let storage: string;
    let light: Light;
    let second: Light;
    let bridge: ChildProcess;
    let url: string;
    let client: ApiClient;
    let nodeId: number | bigint;

    beforeAll(async () => {
      net = await createNetnsPair('matter');
      storage = mkdtempSync(join(tmpdir(), 'sentinel-mdns-light-'));
      // `sentinel matter-server` as a user runs it: mDNS on every interface, the API on 127.0.0.1
      bridge = net.a.spawn(process.execPath, [SENTINEL_BIN, 'matter-server', '--port', '0'], {
        stdio: 'pipe',
      });
      const { port } = await jsonLines(bridge)();
      // the second light is for Home Assistant's client, when it is there. It starts first, so
      // the bridge hears of it first: a code must find its own light, not the first one with
      // the same passcode (a manual code carries only the discriminator's top 4 bits, so
      // theirs differ there)
      second = await startLight(net, storage, 1280, 5541);
      light = await startLight(net, storage, 3840, 5540);
      url = `ws://127.0.0.1:${await net.a.forward(port as number)}/ws`;
      client = new ApiClient(url);
      await client.serverInfo;
      expect(await client.result('start_listening')).toEqual([]);
    });

    afterAll(async () => {
      client?.close();
      await net?.close();
      if (storage) rmSync(storage, { recursive: true, force: true });
    });

    it('commissions by manual code alone: the light is found on the veth by mDNS', async () => {
      const node = await client.result<MatterNodeData>('commission_with_code', {
        code: light.manualPairingCode,
      });
      nodeId = node.node_id;
      expect((await client.event((e) => e.event === 'node_added')).data).toMatchObject({ node_id: nodeId });
      expect(node.attributes['0/40/1']).toBe('Sentinel Edge');
      // the light this code belongs to, not any commissionable device with the same passcode
      expect(node.attributes['0/40/15']).toBe(light.serial);
      expect(node.attributes[`${light.endpoint}/6/0`]).toBe(false);
      expect(await light.state()).toEqual({ on: false, fabrics: 1 });
      // reached at the light's own addresses on the link (its namespace has no other way in)
      const ping = await client.result<Record<string, boolean>>('ping_node', { node_id: nodeId });
      const reached = Object.entries(ping)
        .filter(([, ok]) => ok)
        .map(([address]) => address);
      expect(reached.length).toBeGreaterThan(0);
      for (const address of reached)
        expect([net.b.ipv4, net.b.ipv6, 'fe80']).toContain(address.startsWith('fe80') ? 'fe80' : address);
    });

    it('toggles the light over the link and hears attribute_updated', async () => {
      await client.result('device_command', {
        node_id: nodeId,
        endpoint_id: light.endpoint,
        cluster_id: 6,
        command_name: 'Toggle',
        payload: {},
      });
      await client.event(
        (e) =>
          e.event === 'attribute_updated' &&
          Array.isArray(e.data) &&
          e.data[1] === `${light.endpoint}/6/0` &&
          e.data[2] === true,
      );
      expect(await light.state()).toEqual({ on: true, fabrics: 1 });
    });

    it('removes the node: the light leaves the fabric', async () => {
      expect(await client.result('remove_node', { node_id: nodeId })).toBeNull();
      await client.event((e) => e.event === 'node_removed');
      expect((await light.state()).fabrics).toBe(0);
    });

    it.skipIf(python.skipReason !== undefined)(
      "Home Assistant's client commissions with its own commission_with_code (mDNS), toggles, follows and removes",
      async () => {
        const driver = new Driver(python.python, python.clientDir, [
          '--url',
          url,
          '--code',
          second.manualPairingCode,
        ]);
        try {
          await driver.next('connect');
          await driver.next('errors');
          const added = await driver.next('commission');
          expect(added).toMatchObject({
            same_node: true,
            available: true,
            serial_number: second.serial,
            light_endpoint: second.endpoint,
          });
          expect(await second.state()).toEqual({ on: false, fabrics: 1 });
          await driver.next('toggle');
          expect((await second.state()).on).toBe(true);
          expect(await driver.next('attribute_updated')).toMatchObject({ value: true, cached: true });
          await driver.next('device_change_ready');
          second.set(false);
          expect(await driver.next('device_change')).toMatchObject({ value: false });
          expect((await driver.next('read_attribute')).values).toEqual({ [`${second.endpoint}/6/0`]: false });
          await driver.next('extras');
          expect(await driver.next('remove_node')).toMatchObject({ removed: added.node_id, nodes: [] });
          expect((await second.state()).fabrics).toBe(0);
          await driver.next('disconnect');
          expect(await driver.exit()).toBe(0);
        } finally {
          driver.kill();
        }
      },
      // the whole of the client's run, commissioning included
      60_000,
    );
  },
);
