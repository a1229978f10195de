// Every bad input a device can send gets a specific reason in the log and a
// counter at /metrics; the connection and every other device carry on, and
// nothing stored is corrupted.
import type { NatsConnection } from '@nats-io/transport-node';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, entityIdsOf, kvAll } from '../../test/support/bus.js';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import { RawMqttClient } from '../../test/support/mqtt-raw.js';
import { connectDevice } from '../../test/support/picket.js';

const hello = {
  v: 1,
  fw: '1.0.0',
  chip: 'esp32',
  entities: [
    { key: 'temperature', platform: 'sensor', unit: '°C' },
    { key: 'door', platform: 'binary_sensor' },
  ],
};

let stack: TestStack;
let gateway: TestGateway;
let bus: NatsConnection;
let good: MqttClient;
let goodEntity: string;

beforeAll(async () => {
  stack = await startStack({ maxMessageBytes: 1024, deviceRate: 20, deviceBurst: 10 });
  ({ gateway, bus } = stack);
  good = await connectDevice(gateway, 'good', await gateway.addDevice('good'));
  await good.publishAsync('picket/good/hello', JSON.stringify(hello), { qos: 1 });
  goodEntity = (await entityIdsOf(bus, 'picket-good')).temperature!;
});

afterAll(async () => {
  await good?.endAsync();
  await stack?.stop();
});

/** The value of one sample line of /metrics, 0 when absent. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await gateway.metricsText();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && wanted.every((l) => line.includes(l)))
      return Number(line.split(' ').pop());
  }
  return 0;
}

const rejected = (reason: string) => metric('sentinel_device_messages_rejected_total', { reason });

/** The good device still gets its readings through: nothing else was disturbed. */
async function goodDeviceStillWorks(seq: number): Promise<void> {
  const states = await collect<{ value: number }>(bus, `sentinel.state.${goodEntity}`);
  await good.publishAsync('picket/good/state', JSON.stringify({ seq, values: { temperature: seq } }), {
    qos: 1,
  });
  expect((await states.next((s) => s.value === seq)).value).toBe(seq);
  states.stop();
}

/** Publishes with QoS 1 and waits for the PUBACK: the gateway has handled it when this resolves. */
const handled = (client: MqttClient, topic: string, payload: string | Buffer) =>
  client.publishAsync(topic, payload, { qos: 1 });

function loggedReason(device: string, reason: string) {
  return gateway.logs.find((l) => l.device_id === device && l.reason === reason);
}

describe('bad input from devices', () => {
  it('refuses wrong credentials at connect with CONNACK 4, and a client id that is not the username with 5', async () => {
    await gateway.addDevice('creds');
    await expect(connectDevice(gateway, 'creds', 'not-the-token')).rejects.toMatchObject({ code: 4 });
    await expect(connectDevice(gateway, 'nobody', 'whatever')).rejects.toMatchObject({ code: 4 });
    await expect(connectDevice(gateway, 'creds', 'x', { username: 'good' })).rejects.toMatchObject({
      code: 5,
    });
    expect(await metric('sentinel_device_auth_failures_total', { transport: 'mqtt' })).toBeGreaterThanOrEqual(
      3,
    );
    await goodDeviceStillWorks(1);
  });

  it('drops malformed JSON, schema-invalid hello and state, unknown keys and wrong value types, each with its reason', async () => {
    const client = await connectDevice(gateway, 'sloppy', await gateway.addDevice('sloppy'));
    await handled(client, 'picket/sloppy/hello', JSON.stringify(hello));
    const ids = await entityIdsOf(bus, 'picket-sloppy');
    const states = await collect<{ value: unknown; source: { key: string } }>(
      bus,
      `sentinel.state.${ids.temperature}`,
    );

    const before = {
      malformed: await rejected('malformed_json'),
      schema: await rejected('schema_invalid'),
      unknown: await rejected('unknown_entity_key'),
      invalid: await rejected('invalid_value'),
    };
    await handled(client, 'picket/sloppy/state', '{"seq": 1, "values": {');
    await handled(client, 'picket/sloppy/hello', JSON.stringify({ ...hello, v: 2 }));
    await handled(
      client,
      'picket/sloppy/hello',
      JSON.stringify({ ...hello, entities: [{ key: 'Bad Key!', platform: 'sensor' }] }),
    );
    await handled(client, 'picket/sloppy/state', JSON.stringify({ seq: -1, values: { temperature: 1 } }));
    await handled(
      client,
      'picket/sloppy/state',
      JSON.stringify({ seq: 2, values: { temperature: 'NaN', door: 3 } }),
    );
    // a good value beside an unknown key still goes through
    await handled(
      client,
      'picket/sloppy/state',
      JSON.stringify({ seq: 3, values: { humidity: 40, temperature: 19.5 } }),
    );
    await handled(client, 'picket/sloppy/status', 'sleeping');

    expect(await rejected('malformed_json')).toBe(before.malformed + 1);
    expect(await rejected('schema_invalid')).toBe(before.schema + 4);
    expect(await rejected('unknown_entity_key')).toBe(before.unknown + 1);
    expect(await rejected('invalid_value')).toBe(before.invalid + 1);
    expect(loggedReason('picket-sloppy', 'malformed_json')).toBeDefined();
    expect((await states.next((s) => s.value === 19.5)).source.key).toBe('temperature');
    // 'NaN' is a string: a sensor may report text, so it was published as such (not dropped, not coerced)
    expect(states.received.map((s) => s.value)).toEqual(['NaN', 19.5]);

    // the invalid hellos changed nothing stored: same entities, same ids
    expect(await entityIdsOf(bus, 'picket-sloppy')).toEqual(ids);
    expect(client.connected).toBe(true);
    states.stop();
    await client.endAsync();
    await goodDeviceStillWorks(2);
  });

  it('drops oversized messages without reading them into the model', async () => {
    const client = await connectDevice(gateway, 'chatty', await gateway.addDevice('chatty'));
    const before = await rejected('oversized');
    await handled(
      client,
      'picket/chatty/state',
      JSON.stringify({ seq: 1, values: { temperature: 1 }, pad: 'x'.repeat(2000) }),
    );
    expect(await rejected('oversized')).toBe(before + 1);
    expect(client.connected).toBe(true);
    await client.endAsync();
    await goodDeviceStillWorks(3);
  });

  it('closes the connection of a device that sends an MQTT packet over 256 KiB, and only that one', async () => {
    const client = await connectDevice(gateway, 'huge', await gateway.addDevice('huge'));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const before = await metric('sentinel_broker_guard_disconnects_total', { reason: 'packet_too_large' });
    client.publish('picket/huge/state', Buffer.alloc(300 * 1024, 0x20), { qos: 0 });
    await closed;
    expect(await metric('sentinel_broker_guard_disconnects_total', { reason: 'packet_too_large' })).toBe(
      before + 1,
    );
    await goodDeviceStillWorks(6);
  });

  it("keeps a device out of another device's topics: publishes dropped, subscriptions refused with SUBACK 0x80", async () => {
    const intruder = await connectDevice(gateway, 'intruder', await gateway.addDevice('intruder'));
    const goodStates = await collect<{ value: number }>(bus, `sentinel.state.${goodEntity}`);
    const before = await rejected('unauthorized_topic');
    await handled(intruder, 'picket/good/state', JSON.stringify({ seq: 99, values: { temperature: -40 } }));
    await handled(intruder, 'picket/good/status', 'offline');
    await handled(intruder, 'picket/intruder/cmd', '{}');
    await handled(intruder, 'elsewhere/topic', 'x');
    await handled(intruder, 'picket/intruder/constructor', '{}'); // names an Object.prototype member
    await handled(intruder, 'picket/intruder/__proto__', '{}');
    const granted = await new Promise<number[]>((resolve) =>
      intruder.subscribe(['picket/good/cmd', 'picket/+/cmd', '#', 'picket/intruder/cmd'], (error, grants) =>
        // MQTT.js reports a refused filter as an error carrying the SUBACK
        resolve(
          ((error as { packet?: { granted: number[] } })?.packet?.granted ??
            grants?.map((g) => g.qos)) as number[],
        ),
      ),
    );
    expect(granted).toEqual([128, 128, 128, 0]);
    expect(await rejected('unauthorized_topic')).toBe(before + 9);
    expect(intruder.connected).toBe(true);

    await goodDeviceStillWorks(4);
    expect(goodStates.received.map((s) => s.value)).toEqual([4]);
    const goodDevice = (await kvAll<{ online: boolean }>(bus, 'sentinel_devices')).get('picket-good');
    expect(goodDevice?.online).toBe(true);
    goodStates.stop();
    await intruder.endAsync();
  });

  it('answers an empty client id with CleanSession=0 by CONNACK 2 (MQTT-3.1.3-8)', async () => {
    // MQTT.js will not even send this CONNECT, so it is written by hand
    const client = await RawMqttClient.open(gateway.mqttPort);
    expect(await client.connect({ clientId: '', keepaliveSeconds: 60, clean: false })).toBe(2);
    await client.closed;
  });

  it('slows down a device that floods, losing nothing and not slowing the others', async () => {
    const flooder = await connectDevice(gateway, 'flooder', await gateway.addDevice('flooder'));
    await handled(flooder, 'picket/flooder/hello', JSON.stringify(hello));
    const ids = await entityIdsOf(bus, 'picket-flooder');
    const states = await collect<{ value: number }>(bus, `sentinel.state.${ids.temperature}`);
    const throttledBefore = await metric('sentinel_device_throttled_total', { protocol: 'picket' });
    const count = 60; // burst 10 + rate 20/s: the tail waits ~2.5 s
    const acks = Array.from({ length: count }, (_, i) =>
      flooder.publishAsync('picket/flooder/state', JSON.stringify({ seq: i, values: { temperature: i } }), {
        qos: 1,
      }),
    );
    // while the flood is throttled, the good device is served at once
    await goodDeviceStillWorks(5);
    expect(states.received.length).toBeLessThan(count);
    await Promise.all(acks);
    await states.count(count);
    expect(new Set(states.received.map((s) => s.value)).size).toBe(count);
    expect(await metric('sentinel_device_throttled_total', { protocol: 'picket' })).toBeGreaterThan(
      throttledBefore + 30,
    );
    states.stop();
    await flooder.endAsync();
  });

  it('ends the live connection of a device whose registration is removed', async () => {
    const token = await gateway.addDevice('revoked');
    const client = await connectDevice(gateway, 'revoked', token);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await gateway.removeDevice('revoked');
    await closed;
    await expect(connectDevice(gateway, 'revoked', token)).rejects.toMatchObject({ code: 4 });
  });
});
