// A rollout on two gateway nodes: the `ota` leader drives devices connected to either
// node (the OTA relay on the bus), and after a SIGKILL of the leader the other node takes
// the lock and carries the rollout on from the state in sentinel_ota.
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { openGatewayStore } from '@sentinel/gateway/store';
import { PicketDevice, waitForEvent } from '@sentinel/simulators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestBus, kvValue } from '../../test/support/bus.js';
import { runCli } from '../../test/support/cli.js';
import { type ClusterNode, removeNodeData, startClusterNode, until } from '../../test/support/cluster.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import type { Rollout } from '../src/ota/rollout/schema.js';
import { addToCatalog, appImage, dataDirForTest, OLD_VERSION } from './ota-support.js';

let nats: TestNats;
let nc: NatsConnection;
const nodes: ClusterNode[] = [];
const sims: PicketDevice[] = [];

beforeAll(async () => {
  nats = await startNats();
  nc = await connectTestBus(nats.url);
  // the catalog is per node (<data>/firmware/ota): both nodes hold the image
  for (const id of ['ota-n1', 'ota-n2']) {
    const data = await dataDirForTest();
    await addToCatalog(data, appImage('1.5.0'));
    nodes.push(await startClusterNode(nats.url, id, undefined, data));
  }
}, 30_000);

afterAll(async () => {
  await Promise.all(sims.map((d) => d.stop()));
  for (const node of nodes) {
    await node.stop();
    await removeNodeData(node);
  }
  await nc?.close();
  await nats?.stop();
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
});
