// Two `sentinel gateway` processes on one real nats-server, with simulated picket
// devices that know both nodes: commands through either node reach a device on the
// other; a SIGKILLed leader's subsystems move to the survivor within TTL + grace
// while devices keep publishing QoS 1, with no acknowledged reading lost and none
// applied twice; a frozen leader steps down when it wakes; a planned stop moves
// leadership at once; a device that moved to the other node is not "offline".
import type { NatsConnection } from '@nats-io/transport-node';
import { openGatewayStore } from '@sentinel/gateway';
import { PicketDevice } from '@sentinel/simulators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectTestBus, entityIdsOf, kvValue } from '../../test/support/bus.js';
import { killStrays } from '../../test/support/cli.js';
import {
  type ClusterNode,
  duplicates,
  historyReadings,
  removeNodeData,
  startClusterNode,
  TEST_LOCKS,
  until,
} from '../../test/support/cluster.js';
import { startNats, type TestNats } from '../../test/support/nats.js';

let nats: TestNats;
let bus: NatsConnection;
const nodes = new Map<string, ClusterNode>();
const devices: PicketDevice[] = [];
const acked = new Map<string, Set<number>>();

async function addDevice(id: string, gateways: string[]): Promise<PicketDevice> {
  const store = await openGatewayStore({ natsUrl: nats.url });
  const { token } = await store.addDevice(id);
  await store.close();
  const device = new PicketDevice({
    id,
    token,
    gateway: gateways,
    intervalMs: 50,
    qos: 1,
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  const seqs = new Set<number>();
  acked.set(`picket-${id}`, seqs);
  device.on('acked', ({ seq }) => seqs.add(seq));
  devices.push(device);
  const connected = new Promise<void>((resolve) => device.once('connected', () => resolve()));
  device.start();
  await connected;
  return device;
}

const node = (id: string) => nodes.get(id)!;
const other = (id: string) => (id === 'node-a' ? 'node-b' : 'node-a');

async function leaderOf(subsystem: string, via: ClusterNode): Promise<string | undefined> {
  return (await via.status()).leaders[subsystem]?.node_id;
}

/** Waits until the device's record says it is online on `nodeId`. */
const onlineOn = (deviceId: string, nodeId: string) =>
  kvValue<{ online: boolean; node_id: string }>(
    bus,
    'sentinel_devices',
    deviceId,
    (d) => d.online && d.node_id === nodeId,
    30_000,
  );

beforeAll(async () => {
  nats = await startNats();
  bus = await connectTestBus(nats.url);
  for (const id of ['node-a', 'node-b']) nodes.set(id, await startClusterNode(nats.url, id));
}, 60_000);

afterAll(async () => {
  await Promise.all(devices.map((d) => d.stop()));
  for (const n of nodes.values()) {
    await n.stop();
    await removeNodeData(n);
  }
  killStrays();
  await bus?.close();
  await nats?.stop();
}, 60_000);

describe('two gateway nodes', () => {
  it('reach a device through either node: commands entering at one node go to the node holding it', async () => {
    const onA = await addDevice('on-a', [node('node-a').mqttUrl]);
    const onB = await addDevice('on-b', [node('node-b').mqttUrl]);
    await onlineOn('picket-on-a', 'node-a');
    await onlineOn('picket-on-b', 'node-b');
    const relayA = (await until(() => entityIdsOf(bus, 'picket-on-a').then((ids) => ids.relay)))!;
    const relayB = (await until(() => entityIdsOf(bus, 'picket-on-b').then((ids) => ids.relay)))!;
    // both nodes must know the other's devices (their registries follow KV)
    const post = (via: ClusterNode, entity: string, value: boolean) =>
      via.gateway
        .api(`/api/entities/${entity}/command`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ value }),
        })
        .then(async (r) => ({ status: r.status, body: await r.json() }));
    const commanded = (device: PicketDevice) =>
      new Promise<unknown>((resolve) => device.once('command', ({ command }) => resolve(command.value)));

    let got = commanded(onA);
    expect(await post(node('node-b'), relayA, true)).toEqual({ status: 200, body: { ok: true } });
    expect(await got).toBe(true);
    got = commanded(onB);
    expect(await post(node('node-a'), relayB, true)).toEqual({ status: 200, body: { ok: true } });
    expect(await got).toBe(true);
    // and over the bus, where the queue group picks either node: every request is answered by the device
    for (let i = 0; i < 6; i++) {
      const target = i % 2 ? relayA : relayB;
      const reply = await bus.request(`sentinel.cmd.${target}`, JSON.stringify({ value: i % 4 < 2 }), {
        timeout: 10_000,
      });
      expect(reply.json()).toEqual({ ok: true });
    }
    // a bad request is refused as before, wherever it lands
    const bad = await bus.request(`sentinel.cmd.${relayA}`, JSON.stringify({ value: 'on' }), {
      timeout: 10_000,
    });
    expect(bad.json()).toMatchObject({ ok: false, error: { code: 'invalid' } });
    await Promise.all([onA.stop(), onB.stop()]);
  });

  it('moves the leader of every subsystem to the survivor within TTL + grace after a SIGKILL under load, losing and doubling no reading', async () => {
    const a = node('node-a');
    const b = node('node-b');
    // devices that know both nodes, half starting on each
    const fleet = [
      await addDevice('load-1', [a.mqttUrl, b.mqttUrl]),
      await addDevice('load-2', [a.mqttUrl, b.mqttUrl]),
      await addDevice('load-3', [b.mqttUrl, a.mqttUrl]),
      await addDevice('load-4', [b.mqttUrl, a.mqttUrl]),
    ];
    const states = await collect<{
      entity_id: string;
      ts: number;
      source: { device_id: string; key: string };
    }>(bus, 'sentinel.state.>');
    const leaders = (await a.status()).leaders;
    const led = Object.entries(leaders).filter(([, leader]) => leader !== null);
    expect(led.map(([name]) => name)).toContain('registry');
    const victimId = leaders.registry!.node_id;
    const victim = node(victimId);
    const survivor = node(other(victimId));
    // readings flow through both nodes before the crash
    await until(() => fleet.every((d) => d.stats.acked > 10));

    const killedAt = performance.now();
    await victim.kill();
    let takeoverMs: number;
    let taken: Awaited<ReturnType<ClusterNode['status']>>;
    try {
      taken = await until(async () => {
        const status = await survivor.status();
        return led.every(([name]) => status.leaders[name]?.node_id === survivor.nodeId) ? status : undefined;
      });
      takeoverMs = performance.now() - killedAt;
    } finally {
      // the crashed node comes back (as a standby), whatever this test finds
      nodes.set(victimId, await victim.restart());
    }
    expect(taken.leading).toEqual(expect.arrayContaining(led.map(([name]) => name)));
    expect(takeoverMs).toBeLessThanOrEqual(TEST_LOCKS.ttlMs + TEST_LOCKS.graceMs);

    // the victim's devices come back through the survivor and keep being acknowledged
    for (const id of ['load-1', 'load-2', 'load-3', 'load-4'])
      await onlineOn(`picket-${id}`, survivor.nodeId);
    const before = fleet.map((d) => d.stats.acked);
    await until(() => fleet.every((d, i) => d.stats.acked > before[i]! + 10));
    // a device that moved is online, not judged offline after the reconnect grace
    const offline = await collect<{ device_id: string; online: boolean }>(
      bus,
      'sentinel.device.*.availability',
    );
    await new Promise((resolve) => setTimeout(resolve, TEST_LOCKS.reconnectGraceMs + TEST_LOCKS.ttlMs));
    expect(offline.received.filter((m) => m.device_id.startsWith('picket-load') && !m.online)).toEqual([]);

    await Promise.all(fleet.map((d) => d.stop()));
    // every acknowledged reading is in SENTINEL_HISTORY, and no reading is there twice
    const history = await historyReadings(bus);
    for (const device of fleet) {
      const stored = new Set(history.filter((r) => r.device_id === `picket-${device.id}`).map((r) => r.seq));
      const lost = [...acked.get(`picket-${device.id}`)!].filter((seq) => !stored.has(seq));
      expect(lost, device.id).toEqual([]);
    }
    expect(duplicates(history, (r) => `${r.device_id}:${r.seq}:${r.key}`)).toEqual([]);
    // nor was any reading published twice on sentinel.state.* (resends through the other node included)
    const loadStates = states.received.filter((s) => s.source.device_id.startsWith('picket-load'));
    expect(duplicates(loadStates, (s) => `${s.source.device_id}:${s.source.key}:${s.ts}`)).toEqual([]);
    states.stop();
    offline.stop();

    // the crashed node came back as a standby
    await until(async () =>
      (await node(victimId).status()).nodes.filter((n) => n.alive).length === 2 ? true : undefined,
    );
    expect((await node(victimId).status()).leading).toEqual([]);
  });

  it('marks a device of a dead node offline after the reconnect grace when it reconnects nowhere', async () => {
    const leader = (await leaderOf('registry', node('node-a')))!;
    const follower = node(other(leader));
    const lonely = await addDevice('lonely', [follower.mqttUrl]);
    await onlineOn('picket-lonely', follower.nodeId);
    const availability = await collect<{ device_id: string; online: boolean }>(
      bus,
      'sentinel.device.picket-lonely.availability',
    );
    await follower.kill();
    // judged by the leader of `registry` (the other node), after TTL + reconnect grace
    expect(await availability.next((m) => !m.online, 30_000)).toMatchObject({ online: false });
    expect(
      await kvValue<{ online: boolean }>(bus, 'sentinel_devices', 'picket-lonely', (d) => !d.online),
    ).toMatchObject({ online: false, node_id: follower.nodeId });
    await lonely.stop();
    availability.stop();
    nodes.set(follower.nodeId, await follower.restart());
  });

  it('makes a frozen leader step down when it wakes: its late renew is refused and only one node leads', async () => {
    const leaderId = (await leaderOf('registry', node('node-a')))!;
    const frozen = node(leaderId);
    const survivor = node(other(leaderId));
    frozen.gateway.process.kill('SIGSTOP');
    try {
      await until(async () =>
        (await leaderOf('registry', survivor)) === survivor.nodeId ? true : undefined,
      );
    } finally {
      frozen.gateway.process.kill('SIGCONT');
    }
    // the woken node notices it lost the lease, stops the subsystem, and does not take it back
    await until(() => /"lost leadership; stopping"/.test(frozen.gateway.stderr()) || undefined);
    const status = await frozen.status();
    expect(status.leading).not.toContain('registry');
    expect(status.leaders.registry?.node_id).toBe(survivor.nodeId);
    expect((await survivor.status()).leading).toContain('registry');
  });

  it('moves leadership at once on a planned stop (SIGTERM), without waiting for the lease to expire, and hands its devices over', async () => {
    const leaderId = (await leaderOf('registry', node('node-a')))!;
    const leaving = node(leaderId);
    const staying = node(other(leaderId));
    const revision = (await staying.status()).leaders.registry!.revision;
    // devices on the leaving node, that know the other one too
    const movers = [
      await addDevice('mover-1', [leaving.mqttUrl, staying.mqttUrl]),
      await addDevice('mover-2', [leaving.mqttUrl, staying.mqttUrl]),
    ];
    await onlineOn('picket-mover-1', leaving.nodeId);
    await onlineOn('picket-mover-2', leaving.nodeId);
    const availability = await collect<{ device_id: string; online: boolean }>(
      bus,
      'sentinel.device.*.availability',
    );
    const stopping = leaving.stop();
    // the standby acquires as soon as it sees the release: a new lock record by the other node
    await until(async () => {
      const leader = (await staying.status()).leaders.registry;
      return leader?.node_id === staying.nodeId && leader.revision > revision ? true : undefined;
    }, TEST_LOCKS.ttlMs);
    expect((await stopping).code).toBe(0);
    // the leaving node handed its devices over: they moved, and it never said they went offline
    await onlineOn('picket-mover-1', staying.nodeId);
    await onlineOn('picket-mover-2', staying.nodeId);
    expect(availability.received.filter((m) => m.device_id.startsWith('picket-mover') && !m.online)).toEqual(
      [],
    );
    availability.stop();
    await Promise.all(movers.map((d) => d.stop()));
    nodes.set(leaderId, await leaving.restart());
    expect((await node(leaderId).status()).leading).toEqual([]);
  });
});
