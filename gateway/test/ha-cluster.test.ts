// Home Assistant export on two gateway nodes (issue 14): one publisher per cluster
// behind the `ha` lock, and when the publishing node is SIGKILLed the other one takes
// over: the dead node's will marks everything unavailable, then the survivor says
// `online`, puts the configs back (retained), states flow and Home Assistant's
// commands reach the device again. Real processes, real nats-server and mosquitto.
import type { NatsConnection } from '@nats-io/transport-node';
import { openGatewayStore } from '@sentinel/gateway';
import { PicketDevice } from '@sentinel/simulators';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestBus, entityIdsOf } from '../../test/support/bus.js';
import { killStrays } from '../../test/support/cli.js';
import { type ClusterNode, removeNodeData, startClusterNode, until } from '../../test/support/cluster.js';
import { startMosquitto, type TestMosquitto } from '../../test/support/mosquitto.js';
import { startNats, type TestNats } from '../../test/support/nats.js';

interface Received {
  topic: string;
  text: string;
  retain: boolean;
}

let broker: TestMosquitto;
let nats: TestNats;
let bus: NatsConnection;
let ha: MqttClient;
let device: PicketDevice | undefined;
const nodes: ClusterNode[] = [];
const received: Received[] = [];
const waiters = new Set<() => void>();

/** The first message from index `from` on that matches, once it has arrived. */
function next(match: (m: Received) => boolean, from: number, what: string): Promise<Received> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`Home Assistant's side never saw ${what}`));
    }, 30_000);
    const check = () => {
      const found = received.slice(from).find(match);
      if (!found) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(found);
    };
    waiters.add(check);
    check();
  });
}

const metric = async (node: ClusterNode, name: string): Promise<number> => {
  const text = await (await node.gateway.api('/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
};

beforeAll(async () => {
  [broker, nats] = await Promise.all([startMosquitto(), startNats()]);
  bus = await connectTestBus(nats.url);
  ha = await mqtt.connectAsync(broker.url, { clientId: `ha-cluster-${process.pid}`, reconnectPeriod: 100 });
  ha.on('message', (topic, payload, packet) => {
    received.push({ topic, text: payload.toString(), retain: packet.retain });
    for (const wake of [...waiters]) wake();
  });
  await ha.subscribeAsync({ 'homeassistant/#': { qos: 1 }, 'sentinel/#': { qos: 1 } });
  // both nodes get --ha-mqtt through its variable (the cluster helper takes no extra flags)
  process.env.SENTINEL_HA_MQTT = broker.url;
  try {
    for (const id of ['node-a', 'node-b']) nodes.push(await startClusterNode(nats.url, id));
  } finally {
    delete process.env.SENTINEL_HA_MQTT;
  }
}, 60_000);

afterAll(async () => {
  await device?.stop();
  for (const node of nodes) {
    await node.stop();
    await removeNodeData(node);
  }
  killStrays();
  await ha?.endAsync(true);
  await bus?.close();
  await Promise.all([nats?.stop(), broker?.stop()]);
}, 60_000);

describe('Home Assistant export on two gateway nodes', () => {
  let leader: ClusterNode;
  let standby: ClusterNode;
  let ids: Record<string, string>;
  const configTopic = 'homeassistant/device/picket-porch/config';

  it('publishes from one node only: the holder of the `ha` lock', async () => {
    const holder = await until(async () => (await nodes[0]!.status()).leaders.ha?.node_id);
    leader = nodes.find((n) => n.nodeId === holder)!;
    standby = nodes.find((n) => n.nodeId !== holder)!;
    const store = await openGatewayStore({ natsUrl: nats.url });
    const { token } = await store.addDevice('porch');
    await store.close();
    // a device that knows both nodes, connected to the standby: the leader publishes for it anyway
    device = new PicketDevice({
      id: 'porch',
      token,
      gateway: [standby.mqttUrl, leader.mqttUrl],
      intervalMs: 200,
      qos: 1,
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    device.start();
    await next((m) => m.topic === configTopic && m.text !== '', 0, 'the device config');
    ids = await until(async () => {
      const found = await entityIdsOf(bus, 'picket-porch');
      return found.relay && found.temperature ? found : undefined;
    });
    await next((m) => m.topic === `sentinel/picket-porch/${ids.temperature}/state`, 0, 'a temperature state');
    expect((await standby.status()).leaders.ha?.node_id).toBe(leader.nodeId);
    expect(await metric(leader, 'sentinel_ha_discovery_publishes_total')).toBeGreaterThan(0);
    // the standby never connected to the broker: nothing published twice
    expect(await metric(standby, 'sentinel_ha_discovery_publishes_total')).toBe(0);
    // Home Assistant's birth message makes the publisher publish everything again: the
    // gateway's own config once per pass (nothing else publishes it), not once per node
    const gatewayConfig = (m: Received) => m.topic === 'homeassistant/device/sentinel-gateway/config';
    const from = received.length;
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await next(gatewayConfig, from, 'the first pass');
    const second = received.length;
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    const again = await next(gatewayConfig, second, 'the second pass');
    // the device's config comes after the gateway's in a pass: the second pass is through
    await next((m) => m.topic === configTopic, received.indexOf(again) + 1, 'the device in the second pass');
    expect(received.slice(from).filter(gatewayConfig)).toHaveLength(2);
  });

  it('moves to the other node when the publisher is SIGKILLed: configs retained, states and commands flowing', async () => {
    // the holder now (on a loaded machine a lease may have moved since)
    const holder = (await nodes[0]!.status()).leaders.ha?.node_id;
    leader = nodes.find((n) => n.nodeId === holder)!;
    standby = nodes.find((n) => n.nodeId !== holder)!;
    const from = received.length;
    await leader.kill();
    // the broker delivers the dead node's will
    await next(
      (m) => m.topic === 'sentinel/gateway/status' && m.text === 'offline',
      from,
      'the will (offline)',
    );
    const online = await next(
      (m) => m.topic === 'sentinel/gateway/status' && m.text === 'online',
      from,
      'the survivor saying online',
    );
    expect(received.indexOf(online)).toBeGreaterThan(from);
    expect((await standby.status()).leaders.ha?.node_id).toBe(standby.nodeId);
    await next((m) => m.topic === configTopic && m.text !== '', from, 'the config from the survivor');
    const stateTopic = `sentinel/picket-porch/${ids.temperature}/state`;
    const afterConfig = received.length;
    await next((m) => m.topic === stateTopic, afterConfig, 'a state from the survivor');

    // what a Home Assistant starting now finds retained: the config and the gateway online
    const late = await mqtt.connectAsync(broker.url, { clientId: `ha-late-${process.pid}` });
    try {
      const retained = new Map<string, string>();
      late.on('message', (topic, payload, packet) => {
        if (packet.retain) retained.set(topic, payload.toString());
      });
      await late.subscribeAsync([configTopic, 'sentinel/gateway/status'], { qos: 1 });
      await until(() => retained.size === 2);
      expect(retained.get('sentinel/gateway/status')).toBe('online');
      expect(JSON.parse(retained.get(configTopic)!).cmps[ids.relay!]).toMatchObject({ p: 'switch' });
    } finally {
      await late.endAsync(true);
    }

    // a command from Home Assistant reaches the device through the survivor, and the state follows
    const commanded = new Promise<unknown>((resolve) =>
      device!.once('command', ({ command }) => resolve(command.value)),
    );
    const beforeCommand = received.length;
    await ha.publishAsync(`sentinel/picket-porch/${ids.relay}/set`, 'ON', { qos: 1 });
    expect(await commanded).toBe(true);
    await next(
      (m) => m.topic === `sentinel/picket-porch/${ids.relay}/state` && m.text === 'ON',
      beforeCommand,
      'the relay state ON',
    );
    expect(await metric(standby, 'sentinel_ha_commands_total{result="ok"}')).toBe(1);
  });
});
