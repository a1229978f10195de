// A rollout on two gateway nodes: the `ota` leader drives devices connected to either
// node (the OTA relay on the bus), and after a SIGKILL of the leader the other node takes
// the lock and carries the rollout on from the state in sentinel_ota. The image is added
// once, through the CLI, to the shared catalog (the object store bucket sentinel_firmware):
// neither node has it on disk, and devices on both download it from their own node.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { type CatalogEntry, ObjectStoreCatalog, openGatewayStore } from '@sentinel/gateway/store';
import { PicketDevice, waitForEvent } from '@sentinel/simulators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestBus, kvValue } from '../../test/support/bus.js';
import { runCli } from '../../test/support/cli.js';
import { type ClusterNode, removeNodeData, startClusterNode, until } from '../../test/support/cluster.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import type { Rollout } from '../src/ota/rollout/schema.js';
import { appImage, dataDirForTest, OLD_VERSION } from './ota-support.js';

let nats: TestNats;
let nc: NatsConnection;
const nodes: ClusterNode[] = [];
const sims: PicketDevice[] = [];
let files: string;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectTestBus(nats.url);
  for (const id of ['ota-n1', 'ota-n2'])
    nodes.push(await startClusterNode(nats.url, id, undefined, await dataDirForTest()));
  // on an external NATS the catalog is shared: added once, through the CLI
  files = await dataDirForTest();
  await addWithCli(appImage('1.5.0'), '1.5.0');
}, 30_000);

/** `sentinel firmware add --nats` of these bytes; returns the entry it printed */
async function addWithCli(bytes: Uint8Array, name: string): Promise<CatalogEntry> {
  const file = join(files, `${name}.bin`);
  await writeFile(file, bytes);
  const added = await runCli(['firmware', 'add', file, '--nats', nats.url]);
  expect(added.stderr).toBe('');
  return JSON.parse(added.stdout) as CatalogEntry;
}

async function listWithCli(): Promise<string[]> {
  const listed = await runCli(['firmware', 'list', '--nats', nats.url]);
  expect(listed.stderr).toBe('');
  return (JSON.parse(listed.stdout) as { images: CatalogEntry[] }).images.map((e) => e.id);
}

afterAll(async () => {
  await Promise.all(sims.map((d) => d.stop()));
  for (const node of nodes) {
    await node.stop();
    await removeNodeData(node);
  }
  await nc?.close();
  await nats?.stop();
  if (files) await rm(files, { recursive: true, force: true });
});

describe('two gateway nodes', () => {
  it('the rollout goes on on the other node after SIGKILL of the `ota` leader', async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const leaderId = await until(async () => (await a.status()).leaders.ota?.node_id);
    const leader = leaderId === a.nodeId ? a : b;
    const survivor = leader === a ? b : a;

    const ids = Array.from({ length: 8 }, (_, i) => `pair-${i}`);
    const store = await openGatewayStore({ natsUrl: nats.url });
    try {
      for (const [i, id] of ids.entries()) {
        const { token } = await store.addDevice(id);
        // half start on each node: the leader reaches the others' devices through the relay
        const order = i % 2 === 0 ? [a, b] : [b, a];
        const sim = new PicketDevice({
          id,
          token,
          gateway: order.map((n) => n.mqttUrl),
          intervalMs: 60_000,
          hello: { fw: OLD_VERSION },
          backoff: { initialMs: 20, maxMs: 300 },
          ota: { rebootMs: 20 },
        });
        sims.push(sim);
        const acked = waitForEvent(sim, 'acked', { timeoutMs: 15_000 });
        sim.start();
        await acked;
      }
    } finally {
      await store.close();
    }

    const started = await runCli([
      'ota',
      'rollout',
      '1.5.0',
      '--devices',
      ids.join(','),
      '--canary',
      '1',
      '--batch',
      '3',
      '--nats',
      nats.url,
    ]);
    expect(started.stderr).toBe('');
    // the canary and the first batch are done (devices on both nodes): the leader dies
    await kvValue<Rollout>(nc, 'sentinel_ota', 'rollout', (r) => r.stage >= 2, 30_000);
    await leader.kill();
    // the survivor has work left: not every device was done when the leader died
    const atKill = (await (await new Kvm(nc).open('sentinel_ota')).get('rollout'))!.json<Rollout>();
    expect(atKill.status).toBe('running');
    const left = Object.entries(atKill.devices).filter(([, d]) => d.state !== 'confirmed');
    expect(left.length).toBeGreaterThan(0);

    await until(async () => (await survivor.status()).leaders.ota?.node_id === survivor.nodeId, 30_000);
    const done = await kvValue<Rollout>(nc, 'sentinel_ota', 'rollout', (r) => r.status !== 'running', 60_000);
    expect(done.status).toBe('completed');
    expect(Object.values(done.devices).map((d) => d.state)).toEqual(Array(8).fill('confirmed'));
    for (const sim of sims) expect(sim.ota).toEqual({ slot: 1, version: '1.5.0', pending: undefined });
  }, 90_000);

  it('the shared catalog: a removed image is gone for every node, a corrupted object is refused', async () => {
    const survivor = nodes.find((n) => n.gateway.process.signalCode === null)!;
    expect(await listWithCli()).toEqual(['picket-1.5.0-esp32s3']);

    // removed through the CLI: the bucket every node reads no longer has it
    const removed = await runCli(['firmware', 'remove', 'picket-1.5.0-esp32s3', '--nats', nats.url]);
    expect(removed.stderr).toBe('');
    const shared = new ObjectStoreCatalog(await new Objm(nc).open('sentinel_firmware'));
    expect(await shared.images()).toEqual([]);
    // and the `ota` leader (the survivor) plans from that bucket too
    const again = await runCli(['ota', 'rollout', '1.5.0', '--devices', 'pair-0', '--nats', nats.url]);
    expect(again.stderr).toMatch(/refused \(not_in_catalog\)/);

    // a stored object whose bytes no longer hash to the catalog's SHA-256
    const { entry } = await shared.addImage(appImage('1.6.0'));
    const os = await new Objm(nc).open('sentinel_firmware');
    const info = (await os.info(entry.sha256))!;
    const damaged = appImage('1.6.0');
    const at = damaged.length - 100;
    damaged[at] = (damaged[at] ?? 0) ^ 0xff;
    await os.putBlob({ name: info.name, metadata: info.metadata! }, damaged);

    const started = await runCli(['ota', 'rollout', '1.6.0', '--devices', 'pair-0', '--nats', nats.url]);
    expect(started.stderr).toBe('');
    const paused = await kvValue<Rollout>(
      nc,
      'sentinel_ota',
      'rollout',
      (r) => r.status !== 'running',
      30_000,
    );
    expect(paused.status).toBe('paused');
    expect(paused.paused_reason).toMatch(/HTTP 502.*image_corrupt/);
    const metrics = await (await survivor.gateway.api('/metrics')).text();
    expect(metrics).toMatch(/sentinel_ota_refused_total\{reason="image_corrupt"\} [1-9]/);
    expect(sims[0]?.ota?.version).toBe('1.5.0');
  }, 30_000);
});
