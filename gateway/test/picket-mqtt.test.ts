// A picket device over MQTT (MQTT.js, following CONTRACT.md §4) becomes devices,
// entities, readings and availability on a real NATS; commands reach it and are
// answered only when it confirms.
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, entityIdsOf, kvValue } from '../../test/support/bus.js';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import { RawMqttClient } from '../../test/support/mqtt-raw.js';
import { CONTRACT_HELLO, connectDevice } from '../../test/support/picket.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const hello = { ...CONTRACT_HELLO, model: 'picket-th', name: 'Kitchen' };

let stack: TestStack;
let gateway: TestGateway;
let bus: NatsConnection;

beforeAll(async () => {
  stack = await startStack({ commandTimeoutMs: 1500 });
  ({ gateway, bus } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

/** A device that answers commands the way picket firmware does. */
async function startDevice(id: string) {
  const token = await gateway.addDevice(id);
  const client = await connectDevice(gateway, id, token);
  let relay = false;
  let refuse: string | undefined;
  await client.subscribeAsync(`picket/${id}/cmd`, { qos: 1 });
  client.on('message', (_topic, payload) => {
    const cmd = JSON.parse(payload.toString());
    if (cmd.key === 'silent') return; // never answers: for the timeout case
    const result = refuse ? { cid: cmd.cid, ok: false, error: refuse } : { cid: cmd.cid, ok: true };
    if (!refuse) relay = cmd.value;
    void client.publishAsync(`picket/${id}/cmd/result`, JSON.stringify(result), { qos: 1 });
  });
  await client.publishAsync(`picket/${id}/status`, 'online', { qos: 1, retain: true });
  await client.publishAsync(`picket/${id}/hello`, JSON.stringify(hello), { qos: 1 });
  return {
    client,
    token,
    relay: () => relay,
    refuseWith(reason: string | undefined) {
      refuse = reason;
    },
  };
}

async function command(entityId: string, body: unknown) {
  const reply = await bus.request(`sentinel.cmd.${entityId}`, JSON.stringify(body), { timeout: 10_000 });
  return reply.json<{ ok: boolean; error?: { code: string; message: string } }>();
}

describe('picket over MQTT', () => {
  it('registers the device and its entities with UUIDv7 ids from the hello', async () => {
    const device = await startDevice('kitchen');
    const record = await kvValue<Record<string, unknown>>(
      bus,
      'sentinel_devices',
      'picket-kitchen',
      (d) => d.sw_version === '1.4.0',
    );
    expect(record).toMatchObject({
      id: 'picket-kitchen',
      protocol: 'picket',
      name: 'Kitchen',
      model: 'picket-th',
      online: true,
    });
    expect(typeof record.last_seen).toBe('number');

    const ids = await entityIdsOf(bus, 'picket-kitchen');
    expect(Object.keys(ids).sort()).toEqual(['relay', 'temperature']);
    const temperature = await kvValue<Record<string, unknown>>(bus, 'sentinel_entities', ids.temperature!);
    expect(ids.temperature).toMatch(UUID_V7);
    expect(temperature).toMatchObject({
      id: ids.temperature,
      name: 'Kitchen Temperature',
      platform: 'sensor',
      device_id: 'picket-kitchen',
      device_class: 'temperature',
      unit: '°C',
      state_class: 'measurement',
      bindings: [{ protocol: 'picket', device_id: 'picket-kitchen', key: 'temperature', priority: 100 }],
    });

    // a second hello (reconnect, firmware update) keeps every id
    await device.client.publishAsync('picket/kitchen/hello', JSON.stringify({ ...hello, fw: '1.5.0' }), {
      qos: 1,
    });
    await kvValue(
      bus,
      'sentinel_devices',
      'picket-kitchen',
      (d: { sw_version?: string }) => d.sw_version === '1.5.0',
    );
    expect(await entityIdsOf(bus, 'picket-kitchen')).toEqual(ids);
    await device.client.endAsync();
  });

  it('writes a reconnecting device’s record once for the connect, and again only for what its hello changes', async () => {
    const device = await startDevice('rejoin');
    await kvValue(bus, 'sentinel_devices', 'picket-rejoin', (d: { online?: boolean }) => d.online === true);
    await device.client.endAsync();
    await kvValue(bus, 'sentinel_devices', 'picket-rejoin', (d: { online?: boolean }) => d.online === false);
    const devices = await new Kvm(bus).open('sentinel_devices');
    const watch = await devices.watch({ key: 'picket-rejoin', include: 'updates' });
    const writes: { online: boolean; sw_version: string }[] = [];
    const updated = (async () => {
      for await (const entry of watch) {
        writes.push(entry.json());
        if (writes.at(-1)!.sw_version === '9.9.9') return;
      }
    })();

    // a reboot: the same hello again, then (as after an update) one with a new firmware
    const again = await connectDevice(gateway, 'rejoin', device.token);
    await again.publishAsync('picket/rejoin/hello', JSON.stringify(hello), { qos: 1 });
    await again.publishAsync('picket/rejoin/hello', JSON.stringify({ ...hello, fw: '9.9.9' }), { qos: 1 });
    await updated;
    watch.stop();
    // online at the connect; the unchanged hello writes nothing; the new firmware once
    expect(writes).toMatchObject([
      { online: true, sw_version: '1.4.0' },
      { online: true, sw_version: '9.9.9' },
    ]);
    await again.endAsync();
  });

  it('keeps a rename made on the platform and follows a hardware swap to the same entity id', async () => {
    const oldDevice = await startDevice('thermo-old');
    const { temperature: id } = await entityIdsOf(bus, 'picket-thermo-old');
    const entities = await new Kvm(bus).open('sentinel_entities');
    const bindings = await new Kvm(bus).open('sentinel_bindings');
    const record = (await entities.get(id!))!.json<{ name: string; bindings: { device_id: string }[] }>();

    // the platform renames the entity and moves it to the replacement sensor:
    // the new binding is claimed first, then the entity points at it
    const swapped = {
      ...record,
      name: 'Nursery temperature',
      device_id: 'picket-thermo-new',
      bindings: [{ protocol: 'picket', device_id: 'picket-thermo-new', key: 'temperature', priority: 100 }],
    };
    await bindings.create('picket.picket-thermo-new.temperature', id!);
    await entities.put(id!, JSON.stringify(swapped));

    const newDevice = await startDevice('thermo-new');
    expect((await entityIdsOf(bus, 'picket-thermo-new')).temperature).toBe(id);
    const states = await collect<{ value: number; source: { device_id: string } }>(
      bus,
      `sentinel.state.${id}`,
    );
    await newDevice.client.publishAsync(
      'picket/thermo-new/state',
      JSON.stringify({ seq: 1, values: { temperature: 19 } }),
      { qos: 1 },
    );
    expect((await states.next()).source.device_id).toBe('picket-thermo-new');
    // the replaced sensor no longer feeds it, and the hellos kept the platform's name
    await oldDevice.client.publishAsync(
      'picket/thermo-old/state',
      JSON.stringify({ seq: 2, values: { temperature: -5 } }),
      { qos: 1 },
    );
    expect(
      await gateway.logged((l) => l.device_id === 'picket-thermo-old' && l.reason === 'unknown_entity_key'),
    ).toBeDefined();
    expect(states.received.map((s) => s.value)).toEqual([19]);
    expect((await entities.get(id!))!.json<{ name: string }>().name).toBe('Nursery temperature');
    states.stop();
    await oldDevice.client.endAsync();
    await newDevice.client.endAsync();
  });

  it('publishes readings on sentinel.state, in history, and the latest in sentinel_state', async () => {
    const device = await startDevice('hall');
    const ids = await entityIdsOf(bus, 'picket-hall');
    const states = await collect(bus, `sentinel.state.${ids.temperature}`);
    await device.client.publishAsync(
      'picket/hall/state',
      JSON.stringify({ seq: 1, ts: 1_700_000_000_000, values: { temperature: 21.5 } }),
      { qos: 1 },
    );
    const state = await states.next();
    expect(state).toEqual({
      entity_id: ids.temperature,
      value: 21.5,
      ts: 1_700_000_000_000,
      unit: '°C',
      source: { protocol: 'picket', device_id: 'picket-hall', key: 'temperature' },
    });
    const latest = await kvValue<Record<string, unknown>>(bus, 'sentinel_state', ids.temperature!);
    expect(latest).toMatchObject({ entity_id: ids.temperature, value: 21.5, available: true });

    // QoS 0 readings flow too, and a reading without ts gets the gateway's clock
    const before = Date.now();
    const relays = await collect(bus, `sentinel.state.${ids.relay}`);
    await device.client.publishAsync(
      'picket/hall/state',
      JSON.stringify({ seq: 2, values: { relay: true } }),
      { qos: 0 },
    );
    const relay = await relays.next();
    expect(relay.value).toBe(true);
    expect(relay.ts).toBeGreaterThanOrEqual(before);

    const { jetstreamManager } = await import('@nats-io/jetstream');
    const jsm = await jetstreamManager(bus);
    const stored = await jsm.streams.getMessage('SENTINEL_HISTORY', {
      last_by_subj: `sentinel.state.${ids.temperature}`,
    });
    expect(stored?.json()).toMatchObject({ value: 21.5 });
    states.stop();
    await device.client.endAsync();
  });

  it('does not lose a reading sent right behind the hello that declares it', async () => {
    const token = await gateway.addDevice('eager');
    const client = await connectDevice(gateway, 'eager', token);
    const accepted = await collect<{ value: number; source: { device_id: string } }>(bus, 'sentinel.state.>');
    // no waiting between the two: both typically arrive in one TCP segment
    const both = Promise.all([
      client.publishAsync('picket/eager/hello', JSON.stringify(hello), { qos: 1 }),
      client.publishAsync('picket/eager/state', JSON.stringify({ seq: 1, values: { temperature: 30.5 } }), {
        qos: 1,
      }),
    ]);
    await both;
    expect((await accepted.next((s) => s.source.device_id === 'picket-eager')).value).toBe(30.5);
    accepted.stop();
    await client.endAsync();
  });

  it('routes a command to the device and replies once the device confirms', async () => {
    const device = await startDevice('porch');
    const ids = await entityIdsOf(bus, 'picket-porch');
    expect(await command(ids.relay!, { value: true })).toEqual({ ok: true });
    expect(device.relay()).toBe(true);

    device.refuseWith('relay is interlocked');
    expect(await command(ids.relay!, { value: false })).toEqual({
      ok: false,
      error: { code: 'rejected', message: 'relay is interlocked' },
    });
    await device.client.endAsync();
  });

  it('answers commands it cannot deliver with the contract error codes', async () => {
    const device = await startDevice('garage');
    const ids = await entityIdsOf(bus, 'picket-garage');
    expect((await command(ids.temperature!, { value: 3 })).error?.code).toBe('not_supported');
    expect((await command(ids.relay!, { value: 'on' })).error?.code).toBe('invalid');
    expect((await command(ids.relay!, { action: 'explode' })).error?.code).toBe('invalid');
    expect((await command('01890000-0000-7000-8000-000000000000', { value: true })).error).toMatchObject({
      code: 'invalid',
      message: expect.stringContaining('unknown entity'),
    });
    const notJson = await bus.request(`sentinel.cmd.${ids.relay}`, '{oops', { timeout: 5000 });
    expect(notJson.json<{ error: { code: string } }>().error.code).toBe('invalid');
    // and the gateway says why in its log
    expect(
      await gateway.logged(
        (l) => l.msg === 'command refused' && JSON.stringify(l.error).includes('unknown entity'),
      ),
    ).toBeDefined();

    // the device stops answering: timeout after the configured deadline
    await device.client.unsubscribeAsync('picket/garage/cmd');
    expect((await command(ids.relay!, { value: true })).error?.code).toBe('unavailable');
    await device.client.subscribeAsync('picket/garage/cmd', { qos: 1 });
    device.client.removeAllListeners('message');
    const started = Date.now();
    expect((await command(ids.relay!, { value: true })).error?.code).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);

    // the device goes away: unavailable, at once
    await device.client.endAsync();
    await kvValue(bus, 'sentinel_devices', 'picket-garage', (d: { online: boolean }) => !d.online);
    expect((await command(ids.relay!, { value: true })).error?.code).toBe('unavailable');
  });

  it('tracks availability of the device and its entities: status, last will, clean close', async () => {
    const availability = await collect<{ device_id: string; online: boolean; ts: number }>(
      bus,
      'sentinel.device.picket-attic.availability',
    );
    const device = await startDevice('attic');
    expect(await availability.next((a) => a.online)).toMatchObject({
      device_id: 'picket-attic',
      online: true,
    });
    const ids = await entityIdsOf(bus, 'picket-attic');
    const entityAvailability = await collect<{ entity_id: string; available: boolean }>(
      bus,
      `sentinel.entity.${ids.temperature}.availability`,
    );

    // an explicit "offline" status, with the connection still up
    await device.client.publishAsync('picket/attic/status', 'offline', { qos: 1, retain: true });
    await availability.next((a) => !a.online);
    expect(await entityAvailability.next((a) => !a.available)).toMatchObject({ entity_id: ids.temperature });
    await device.client.publishAsync('picket/attic/status', 'online', { qos: 1, retain: true });
    await availability.next((a) => a.online && availability.received.length >= 3);

    // the connection dies without DISCONNECT: the last will says offline
    device.client.stream.destroy();
    await availability.next((a) => !a.online && availability.received.length >= 4);
    const record = await kvValue<{ online: boolean }>(
      bus,
      'sentinel_devices',
      'picket-attic',
      (d) => !d.online,
    );
    expect(record.online).toBe(false);
    availability.stop();
    entityAvailability.stop();
    device.client.end(true);
  });

  it('marks a device offline when its keepalive lapses', async () => {
    const token = await gateway.addDevice('sleepy');
    const availability = await collect<{ online: boolean }>(
      bus,
      'sentinel.device.picket-sleepy.availability',
    );
    // keepalive 1 s, and then silence: no PINGREQ ever comes (MQTT-3.1.2-24: closed after 1.5 s)
    const client = await RawMqttClient.open(gateway.mqttPort);
    const returnCode = await client.connect({
      clientId: 'sleepy',
      username: 'sleepy',
      password: token,
      keepaliveSeconds: 1,
      clean: true,
    });
    expect(returnCode).toBe(0);
    await availability.next((a) => a.online);
    const started = Date.now();
    await availability.next((a) => !a.online);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    availability.stop();
    client.destroy();
  });
});
