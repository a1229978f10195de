// The gateway on a 3-node NATS cluster (three nats-servers routed on loopback,
// each with JetStream and its own store): buckets and the history stream are
// created with 3 replicas, and killing one server under QoS 1 load loses no
// acknowledged reading and stores none twice.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { PicketDevice } from '@sentinel/simulators';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectTestBus } from '../../test/support/bus.js';
import { duplicates, historyReadings, until } from '../../test/support/cluster.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import type { TestNats } from '../../test/support/nats.js';
import { startNatsCluster, type TestNatsCluster } from '../../test/support/nats-cluster.js';

let cluster: TestNatsCluster;
let gateway: TestGateway;
let bus: NatsConnection;

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  bus = await connectTestBus(cluster.urls);
  // JetStream answers once the servers have elected a meta leader
  await until(() => jetstreamManager(bus, { timeout: 2000 }).then(() => true), 60_000, 200);
  gateway = await startTestGateway({ url: cluster.urls } as TestNats, { natsUrl: cluster.urls });
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  await bus?.close();
  await cluster?.stop();
}, 60_000);

it('replicates every bucket and the history stream on three servers', async () => {
  const jsm = await jetstreamManager(bus);
  for (const stream of [
    'SENTINEL_HISTORY',
    'KV_sentinel_entities',
    'KV_sentinel_state',
    'KV_sentinel_locks',
  ]) {
    const info = await jsm.streams.info(stream);
    expect(info.config.num_replicas, stream).toBe(3);
    expect(info.cluster?.replicas, stream).toHaveLength(2);
  }
});

it('loses nothing acknowledged when a server is killed under load', async () => {
  const devices: PicketDevice[] = [];
  const acked = new Map<string, Set<number>>();
  for (let i = 1; i <= 3; i++) {
    const id = `r3-${i}`;
    const token = await gateway.addDevice(id);
    const device = new PicketDevice({
      id,
      token,
      gateway: `mqtt://127.0.0.1:${gateway.mqttPort}`,
      intervalMs: 50,
      qos: 1,
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    const seqs = new Set<number>();
    acked.set(id, seqs);
    device.on('acked', ({ seq }) => seqs.add(seq));
    device.start();
    devices.push(device);
  }
  await until(() => devices.every((d) => d.stats.acked > 20) || undefined);

  // the server leading the history stream: its loss forces a new stream leader
  const jsm = await jetstreamManager(bus);
  const leader = (await jsm.streams.info('SENTINEL_HISTORY')).cluster?.leader;
  const victim = cluster.servers.find((s) => s.name === leader) ?? cluster.servers[0]!;
  await victim.kill();
  const before = devices.map((d) => d.stats.acked);
  // readings keep being stored and acknowledged on the two that are left
  await until(() => devices.every((d, i) => d.stats.acked > before[i]! + 40) || undefined, 60_000);
  await Promise.all(devices.map((d) => d.stop()));

  const history = await historyReadings(bus);
  for (const device of devices) {
    const stored = new Set(history.filter((r) => r.device_id === `picket-${device.id}`).map((r) => r.seq));
    expect(
      [...acked.get(device.id)!].filter((seq) => !stored.has(seq)),
      device.id,
    ).toEqual([]);
  }
  expect(duplicates(history, (r) => `${r.device_id}:${r.seq}:${r.key}`)).toEqual([]);
  await victim.restart();
}, 120_000);
