// Home Assistant export (CONTRACT.md §7): a real gateway publishes MQTT device-based
// discovery to a real mosquitto, and a client that behaves as Home Assistant's MQTT
// integration checks what it sees, commands through it, and restarts things.
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestBus, entityIdsOf } from '../../test/support/bus.js';
import { until } from '../../test/support/cluster.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { startMosquitto, type TestMosquitto } from '../../test/support/mosquitto.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { CONTRACT_HELLO, confirmCommands, connectDevice } from '../../test/support/picket.js';

interface Received {
  topic: string;
  text: string;
  retain: boolean;
}

/** Home Assistant's side of the broker: everything under the discovery prefix and ours, awaitable. */
class HomeAssistantSide {
  readonly received: Received[] = [];
  readonly #waiters: { from: number; match: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const message = { topic, text: payload.toString(), retain: packet.retain };
      this.received.push(message);
      const index = this.received.length - 1;
      for (const waiter of [...this.#waiters]) {
        if (index >= waiter.from && waiter.match(message)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(message);
        }
      }
    });
  }

  static async connect(url: string): Promise<HomeAssistantSide> {
    const client = await mqtt.connectAsync(url, { clientId: `ha-${process.pid}`, reconnectPeriod: 100 });
    const side = new HomeAssistantSide(client);
    await client.subscribeAsync({ 'homeassistant/#': { qos: 1 }, 'sentinel/#': { qos: 1 } });
    return side;
  }

  /** A mark: `next` from here on only sees what arrives afterwards. */
  get mark(): number {
    return this.received.length;
  }

  next(topic: string, match: (m: Received) => boolean = () => true, from = 0, timeoutMs = 10_000) {
    const test = (m: Received) => m.topic === topic && match(m);
    const found = this.received.slice(from).find(test);
    if (found) return Promise.resolve(found);
    return new Promise<Received>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nothing on ${topic} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        from,
        match: test,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** The latest message on a topic from `from` on that matches (what a retained topic now holds). */
  async config(
    deviceId: string,
    match: (c: Discovery) => boolean = () => true,
    from = 0,
  ): Promise<Discovery> {
    const m = await this.next(
      `homeassistant/device/${deviceId}/config`,
      (m) => m.text !== '' && match(JSON.parse(m.text) as Discovery),
      from,
    );
    return checkDiscovery(JSON.parse(m.text));
  }
}

interface Discovery {
  dev: { identifiers: string[]; name: string; [key: string]: unknown };
  o: { name: string; sw?: string; url?: string };
  cmps: Record<string, Record<string, unknown> & { p: string; unique_id: string }>;
}

const HA_PLATFORMS = [
  'sensor',
  'binary_sensor',
  'switch',
  'light',
  'fan',
  'lock',
  'cover',
  'number',
  'select',
];
const TOPIC = /^[^#+\0]+$/;

/** What Home Assistant's MQTT discovery requires of a device-based payload (and the keys each platform needs). */
function checkDiscovery(payload: unknown): Discovery {
  const d = payload as Discovery;
  expect(d.dev.identifiers.length).toBeGreaterThan(0);
  expect(typeof d.dev.name).toBe('string');
  expect(typeof d.o.name).toBe('string');
  expect(Object.keys(d.cmps).length).toBeGreaterThan(0);
  for (const [id, c] of Object.entries(d.cmps)) {
    expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect([...HA_PLATFORMS, 'text', 'button', 'event']).toContain(c.p);
    expect(typeof c.unique_id).toBe('string');
    for (const [key, value] of Object.entries(c)) if (key.endsWith('_topic')) expect(value).toMatch(TOPIC);
    for (const a of (c.availability as { topic: string }[] | undefined) ?? []) expect(a.topic).toMatch(TOPIC);
    if (['switch', 'light', 'fan', 'lock', 'number', 'select', 'text', 'button', 'cover'].includes(c.p))
      expect(c.command_topic).toMatch(TOPIC);
    if (['sensor', 'binary_sensor', 'event'].includes(c.p)) expect(c.state_topic).toMatch(TOPIC);
    if (c.p === 'select') expect(Array.isArray(c.options)).toBe(true);
    if (c.p === 'event') expect((c.event_types as string[]).length).toBeGreaterThan(0);
  }
  return d;
}

let broker: TestMosquitto;
let nats: TestNats;
let gateway: TestGateway;
let bus: NatsConnection;
let ha: HomeAssistantSide;
let stopped = false;

/** Left on the broker before the gateway starts: one of ours from an earlier run, one of another integration. */
const STALE = {
  dev: { identifiers: ['picket-gone'], name: 'Gone' },
  o: { name: 'Sentinel Edge', sw: '0.0.9' },
  cmps: { gone: { p: 'sensor', unique_id: 'gone', state_topic: 'sentinel/picket-gone/gone/state' } },
};
const OTHERS = {
  dev: { identifiers: ['zigbee2mqtt_0x01'], name: 'Bulb' },
  o: { name: 'Zigbee2MQTT' },
  cmps: { light: { p: 'light', unique_id: '0x01_light', command_topic: 'zigbee2mqtt/bulb/set' } },
};

beforeAll(async () => {
  [broker, nats] = await Promise.all([startMosquitto(), startNats()]);
  const earlier = await mqtt.connectAsync(broker.url, { clientId: `earlier-${process.pid}` });
  await earlier.publishAsync('homeassistant/device/picket-gone/config', JSON.stringify(STALE), {
    qos: 1,
    retain: true,
  });
  await earlier.publishAsync('homeassistant/device/zigbee2mqtt_0x01/config', JSON.stringify(OTHERS), {
    qos: 1,
    retain: true,
  });
  await earlier.endAsync();
  gateway = await startTestGateway(nats, { haMqtt: broker.url, commandTimeoutMs: 1500 });
  bus = await connectTestBus(nats.url);
  ha = await HomeAssistantSide.connect(broker.url);
});

afterAll(async () => {
  await ha?.client.endAsync(true);
  await bus?.close();
  if (!stopped) await gateway?.stop();
  await Promise.all([nats?.stop(), broker?.stop()]);
});

const online = (m: Received) => m.text === 'online';
const metric = async (name: string) =>
  (await gateway.metricsText()).split('\n').find((line) => line.startsWith(name)) ?? `${name} (absent)`;

describe('Home Assistant MQTT discovery', () => {
  let kitchen: MqttClient;
  let ids: Record<string, string>;
  const commands: { key: string; value?: unknown }[] = [];

  it('publishes a device config Home Assistant accepts, with the gateway status online', async () => {
    await ha.next('sentinel/gateway/status', online);
    const token = await gateway.addDevice('kitchen');
    kitchen = await connectDevice(gateway, 'kitchen', token);
    await kitchen.publishAsync('picket/kitchen/status', 'online', { qos: 1, retain: true });
    await kitchen.publishAsync(
      'picket/kitchen/hello',
      JSON.stringify({ ...CONTRACT_HELLO, name: 'Kitchen' }),
      {
        qos: 1,
      },
    );
    // the device record and its entities are written one after the other: the config settles on both
    const config = await ha.config(
      'picket-kitchen',
      (c) => Object.keys(c.cmps).length === 2 && c.dev.name === 'Kitchen',
    );
    ids = await entityIdsOf(bus, 'picket-kitchen');
    const availability = [
      { topic: 'sentinel/gateway/status' },
      { topic: 'sentinel/picket-kitchen/availability' },
    ];
    expect(config).toEqual({
      dev: { identifiers: ['picket-kitchen'], name: 'Kitchen', sw_version: '1.4.0' },
      o: { name: 'Sentinel Edge', sw: '0.1.0' },
      cmps: {
        [ids.temperature!]: {
          p: 'sensor',
          name: 'Kitchen Temperature',
          unique_id: ids.temperature,
          default_entity_id: 'sensor.kitchen_temperature',
          availability,
          availability_mode: 'all',
          device_class: 'temperature',
          state_topic: `sentinel/picket-kitchen/${ids.temperature}/state`,
          unit_of_measurement: '°C',
          state_class: 'measurement',
        },
        [ids.relay!]: {
          p: 'switch',
          name: 'Kitchen Relay',
          unique_id: ids.relay,
          default_entity_id: 'switch.kitchen_relay',
          availability,
          availability_mode: 'all',
          state_topic: `sentinel/picket-kitchen/${ids.relay}/state`,
          command_topic: `sentinel/picket-kitchen/${ids.relay}/set`,
        },
      },
    });
    await ha.next('sentinel/picket-kitchen/availability', online);
    // the gateway itself: what BLE devices are connected via
    const gatewayDevice = await ha.config('sentinel-gateway');
    expect(gatewayDevice.cmps.status).toMatchObject({
      p: 'binary_sensor',
      state_topic: 'sentinel/gateway/status',
    });
  });

  it("clears a stale config of ours left by an earlier run, and leaves other integrations' alone", async () => {
    await gateway.logged(
      (l) =>
        l.device_id === 'picket-gone' && l.msg === 'stale Home Assistant config of a removed device cleared',
    );
    const late = await HomeAssistantSide.connect(broker.url);
    try {
      const others = await late.next('homeassistant/device/zigbee2mqtt_0x01/config');
      expect(JSON.parse(others.text)).toEqual(OTHERS);
      await late.config('picket-kitchen');
      expect(late.received.filter((m) => m.topic === 'homeassistant/device/picket-gone/config')).toEqual([]);
    } finally {
      await late.client.endAsync(true);
    }
    expect(ha.received.filter((m) => m.topic.includes('zigbee2mqtt_0x01') && !m.retain)).toEqual([]);
  });

  it('publishes states as readings arrive', async () => {
    await kitchen.publishAsync(
      'picket/kitchen/state',
      JSON.stringify({ seq: 1, values: { temperature: 21.5, relay: false } }),
      {
        qos: 1,
      },
    );
    expect((await ha.next(`sentinel/picket-kitchen/${ids.temperature}/state`)).text).toBe('21.5');
    expect((await ha.next(`sentinel/picket-kitchen/${ids.relay}/state`)).text).toBe('OFF');
  });

  it('routes a command from Home Assistant to the device, and the state follows', async () => {
    let seq = 10;
    await confirmCommands(kitchen, 'kitchen', (command) => {
      commands.push(command);
      void kitchen.publishAsync(
        'picket/kitchen/state',
        JSON.stringify({ seq: ++seq, values: { [command.key]: command.value } }),
        { qos: 1 },
      );
    });
    const from = ha.mark;
    await ha.client.publishAsync(`sentinel/picket-kitchen/${ids.relay}/set`, 'ON', { qos: 1 });
    await ha.next(`sentinel/picket-kitchen/${ids.relay}/state`, (m) => m.text === 'ON', from);
    expect(commands).toEqual([expect.objectContaining({ key: 'relay', value: true })]);
    expect(await metric('sentinel_ha_commands_total{result="ok"}')).toMatch(/ 1$/);
  });

  it('counts and ignores a malformed command payload, and the next good one works', async () => {
    await ha.client.publishAsync(`sentinel/picket-kitchen/${ids.relay}/set`, 'BANANA', { qos: 1 });
    await gateway.logged((l) => l.msg === 'Home Assistant command ignored' && l.reason === 'invalid_payload');
    await ha.client.publishAsync('sentinel/picket-kitchen/not-an-entity/set', 'ON', { qos: 1 });
    await gateway.logged((l) => l.reason === 'unknown_entity');
    expect(await metric('sentinel_ha_messages_rejected_total{reason="invalid_payload"}')).toMatch(/ 1$/);
    expect(await metric('sentinel_ha_messages_rejected_total{reason="unknown_entity"}')).toMatch(/ 1$/);
    const from = ha.mark;
    await ha.client.publishAsync(`sentinel/picket-kitchen/${ids.relay}/set`, 'OFF', { qos: 1 });
    await ha.next(`sentinel/picket-kitchen/${ids.relay}/state`, (m) => m.text === 'OFF', from);
    expect(commands.map((c) => c.value)).toEqual([true, false]);
  });

  it('counts a config someone else wrote on one of our devices, and puts ours back', async () => {
    const from = ha.mark;
    const hijack = {
      dev: { identifiers: ['picket-kitchen'], name: 'Hijacked' },
      o: { name: 'someone' },
      cmps: {},
    };
    await ha.client.publishAsync('homeassistant/device/picket-kitchen/config', JSON.stringify(hijack), {
      qos: 1,
      retain: true,
    });
    await gateway.logged((l) => l.reason === 'foreign_discovery');
    await ha.config('picket-kitchen', (c) => c.dev.name === 'Kitchen', from);
    expect(await metric('sentinel_ha_messages_rejected_total{reason="foreign_discovery"}')).toMatch(/ 1$/);
    // what Home Assistant finds retained is ours again
    const late = await HomeAssistantSide.connect(broker.url);
    try {
      expect((await late.config('picket-kitchen')).dev.name).toBe('Kitchen');
    } finally {
      await late.client.endAsync(true);
    }
    // our own publishes are never taken for someone else's
    expect(await metric('sentinel_ha_messages_rejected_total{reason="foreign_discovery"}')).toMatch(/ 1$/);
  });

  it('puts the real state back when a command fails (device offline)', async () => {
    const token = await gateway.addDevice('porch');
    const porch = await connectDevice(gateway, 'porch', token);
    await porch.publishAsync('picket/porch/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
    await ha.config('picket-porch');
    const porchIds = await entityIdsOf(bus, 'picket-porch');
    await porch.publishAsync('picket/porch/state', JSON.stringify({ seq: 1, values: { relay: false } }), {
      qos: 1,
    });
    const stateTopic = `sentinel/picket-porch/${porchIds.relay}/state`;
    await ha.next(stateTopic, (m) => m.text === 'OFF');
    const offlineMark = ha.mark;
    await porch.endAsync();
    await ha.next('sentinel/picket-porch/availability', (m) => m.text === 'offline', offlineMark);

    const from = ha.mark;
    await ha.client.publishAsync(`sentinel/picket-porch/${porchIds.relay}/set`, 'ON', { qos: 1 });
    expect((await ha.next(stateTopic, () => true, from)).text).toBe('OFF');
    expect(await metric('sentinel_ha_commands_total{result="unavailable"}')).toMatch(/ 1$/);
  });

  it('updates the config when an entity is renamed', async () => {
    const from = ha.mark;
    const response = await gateway.api(`/api/entities/${ids.temperature}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${gateway.httpPort}` },
      body: JSON.stringify({ name: 'Kitchen air' }),
    });
    expect(response.status).toBe(200);
    const config = await ha.config('picket-kitchen', () => true, from);
    expect(config.cmps[ids.temperature!]!.name).toBe('Kitchen air');
    expect(config.cmps[ids.relay!]!.name).toBe('Kitchen Relay');
  });

  it('republishes every config when Home Assistant says it is online, but never hands back what came from it', async () => {
    // a device the Home Assistant import made (protocol ha): exporting it would show it twice there
    const imported = {
      id: 'ha-light-hall',
      protocol: 'ha',
      name: 'Hall',
      online: true,
      last_seen: Date.now(),
    };
    // with an entity: a device without one has no config to publish anyway
    const light = {
      id: '01900000-0000-7000-8000-0000000000a1',
      name: 'Hall light',
      platform: 'light',
      device_id: imported.id,
      bindings: [{ protocol: 'ha', device_id: imported.id, key: 'light', priority: 0 }],
    };
    const kvm = new Kvm(bus);
    await (await kvm.open('sentinel_devices')).put(imported.id, JSON.stringify(imported));
    await (await kvm.open('sentinel_entities')).put(light.id, JSON.stringify(light));
    await until(async () => {
      const answer = await gateway.api(`/api/devices/${imported.id}`);
      return answer.status === 200 && JSON.stringify(await answer.json()).includes(light.id);
    });
    const from = ha.mark;
    await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await Promise.all([
      ha.config('picket-kitchen', () => true, from),
      ha.config('picket-porch', () => true, from),
      ha.config('sentinel-gateway', () => true, from),
    ]);
    // a second pass: everything of the first one has arrived before its first message
    const second = ha.mark;
    await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await ha.config('sentinel-gateway', () => true, second);
    expect(ha.received.slice(from).filter((m) => m.topic.includes(imported.id))).toEqual([]);
    await (await kvm.open('sentinel_entities')).delete(light.id);
    await (await kvm.open('sentinel_devices')).delete(imported.id);
  });

  it('republishes everything after the broker restarts (nothing retained survives it)', async () => {
    const from = ha.mark;
    await broker.restart();
    const config = await ha.config('picket-kitchen', () => true, from);
    expect(config.cmps[ids.temperature!]!.name).toBe('Kitchen air');
    await ha.next('sentinel/gateway/status', online, from);
    await ha.next(`sentinel/picket-kitchen/${ids.temperature}/state`, (m) => m.text === '21.5', from);
    // and commands still flow
    const after = ha.mark;
    await ha.client.publishAsync(`sentinel/picket-kitchen/${ids.relay}/set`, 'ON', { qos: 1 });
    await ha.next(`sentinel/picket-kitchen/${ids.relay}/state`, (m) => m.text === 'ON', after);
  });

  it('clears the retained config of a removed device', async () => {
    const from = ha.mark;
    expect(
      (
        await gateway.api('/api/devices/picket-porch', {
          method: 'DELETE',
          headers: { origin: `http://127.0.0.1:${gateway.httpPort}` },
        })
      ).status,
    ).toBe(204);
    const cleared = await ha.next('homeassistant/device/picket-porch/config', () => true, from);
    expect(cleared.text).toBe('');
    // a fresh subscriber (Home Assistant starting later) finds nothing retained for it
    const late = await HomeAssistantSide.connect(broker.url);
    try {
      await late.config('picket-kitchen');
      expect(late.received.filter((m) => m.topic === 'homeassistant/device/picket-porch/config')).toEqual([]);
    } finally {
      await late.client.endAsync(true);
    }
  });

  it('marks everything unavailable when the gateway stops', async () => {
    const from = ha.mark;
    stopped = true;
    await gateway.stop();
    await ha.next('sentinel/gateway/status', (m) => m.text === 'offline', from);
  });
});
