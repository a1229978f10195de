// Home Assistant import (issue 14): the simulated Home Assistant checked with Home
// Assistant's own client library, then a real gateway importing from it: stable ids,
// commands confirmed by the state Home Assistant reports, changes on its side,
// a wrong token, a dropped connection, no loop through our own export, odd input.
import type { NatsConnection } from '@nats-io/transport-node';
import { SimulatedHomeAssistant } from '@sentinel/simulators';
import {
  callService,
  createConnection,
  createLongLivedTokenAuth,
  ERR_INVALID_AUTH,
  getStates,
  type HassEntities,
  subscribeEntities,
} from 'home-assistant-js-websocket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectTestBus, entityIdsOf, kvValue } from '../../test/support/bus.js';
import { until } from '../../test/support/cluster.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { wsSocketFactory } from '../src/ha/import/socket.js';

const TOKEN = 'long-lived-token';
const HALL = '0c1d2e3f405162738495a6b7c8d9eaf1';
const GARAGE = '9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const ENTITIES = [
  { entity_id: 'light.kitchen', state: 'off', attributes: { friendly_name: 'Kitchen light' } },
  { entity_id: 'switch.fountain', state: 'off', attributes: { friendly_name: 'Fountain' } },
  {
    entity_id: 'climate.living',
    state: 'heat',
    attributes: { friendly_name: 'Living room', temperature: 21, min_temp: 7, max_temp: 30 },
  },
  {
    entity_id: 'sensor.outside',
    state: '12.5',
    attributes: { unit_of_measurement: '°C', device_class: 'temperature', state_class: 'measurement' },
  },
  { entity_id: 'light.stuck', state: 'off' },
  // odd input: a target temperature that is not a number, a domain we do not map
  { entity_id: 'climate.broken', state: 'heat', attributes: { temperature: 'warm' } },
  // and one without the target temperature a climate must have
  { entity_id: 'climate.bare', state: 'heat' },
  { entity_id: 'weather.home', state: 'sunny' },
  // one Home Assistant device with three entities, in the hallway
  ...['sensor.hall_temperature', 'binary_sensor.hall_motion', 'switch.hall_fan'].map((entity_id) => ({
    entity_id,
    state: entity_id.startsWith('sensor') ? '19.5' : 'off',
    attributes: entity_id.startsWith('sensor')
      ? { unit_of_measurement: '°C', state_class: 'measurement' }
      : {},
    device_id: HALL,
  })),
  // a device in the garage (excluded by area); one of its entities is in the hallway itself
  { entity_id: 'switch.garage_door', state: 'off', device_id: GARAGE },
  { entity_id: 'light.garage_lamp', state: 'off', device_id: GARAGE, area_id: 'hallway' },
];
const DEVICES = [
  {
    id: HALL,
    name: 'Multisensor 7',
    name_by_user: 'Hall multisensor',
    manufacturer: 'Aeotec',
    model: 'ZWA024',
    sw_version: '1.2',
    area_id: 'hallway',
  },
  { id: GARAGE, name: 'Garage controller', area_id: 'garage' },
];

const noEvents = () => undefined;

describe('simulated Home Assistant, driven by home-assistant-js-websocket', () => {
  let ha: SimulatedHomeAssistant;
  beforeAll(async () => {
    ha = await SimulatedHomeAssistant.start({ token: TOKEN, entities: ENTITIES });
  });
  afterAll(async () => {
    await ha.stop();
  });

  const connect = (token: string) =>
    createConnection({
      auth: createLongLivedTokenAuth(ha.url, token),
      createSocket: wsSocketFactory({ authInvalid: noEvents, cannotConnect: noEvents }),
      setupRetry: 0,
    });

  it('is accepted by the library: states, entity subscription, service calls, reconnects', async () => {
    await expect(connect('wrong')).rejects.toBe(ERR_INVALID_AUTH);
    const conn = await connect(TOKEN);
    expect(conn.haVersion).toMatch(/^\d{4}\./);
    const states = await getStates(conn);
    expect(states.find((s) => s.entity_id === 'light.kitchen')?.state).toBe('off');
    let entities: HassEntities = {};
    const updates: ((e: HassEntities) => void)[] = [];
    const until = (match: (e: HassEntities) => boolean) =>
      match(entities)
        ? Promise.resolve()
        : new Promise<void>((resolve) => updates.push((e) => match(e) && resolve()));
    const unsubscribe = subscribeEntities(conn, (e) => {
      entities = e;
      for (const u of [...updates]) u(e);
    });
    await until((e) => e['light.kitchen']?.state === 'off');
    await callService(conn, 'light', 'turn_on', { brightness: 128 }, { entity_id: 'light.kitchen' });
    await until((e) => e['light.kitchen']?.attributes.brightness === 128);
    await expect(
      callService(conn, 'light', 'explode', {}, { entity_id: 'light.kitchen' }),
    ).rejects.toMatchObject({
      code: 'not_found',
    });
    const reconnected = new Promise<void>((resolve) => conn.addEventListener('ready', () => resolve()));
    ha.dropConnections();
    await reconnected;
    ha.setState('light.kitchen', 'off', {});
    await until((e) => e['light.kitchen']?.state === 'off');
    unsubscribe();
    conn.close();
  });
});

describe('Home Assistant import', () => {
  let nats: TestNats;
  let ha: SimulatedHomeAssistant;
  let gateway: TestGateway;
  let bus: NatsConnection;
  const start = () =>
    startTestGateway(nats, {
      haUrl: ha.url,
      haToken: TOKEN,
      commandTimeoutMs: 1500,
      haExclude: 'light.ignored_*,area:garage',
    });
  const online = (deviceId: string) =>
    kvValue<{ online: boolean }>(bus, 'sentinel_devices', deviceId, (d) => d.online);

  beforeAll(async () => {
    nats = await startNats();
    ha = await SimulatedHomeAssistant.start({ token: TOKEN, entities: ENTITIES, devices: DEVICES });
    gateway = await start();
    bus = await connectTestBus(nats.url);
  });
  afterAll(async () => {
    await bus?.close();
    await gateway?.stop();
    await ha?.stop();
    await nats?.stop();
  });

  it('imports each chosen entity as a device ha-<entity id>, with ids that survive a restart', async () => {
    await Promise.all(
      ['ha-light-kitchen', 'ha-switch-fountain', 'ha-climate-living', 'ha-sensor-outside'].map(online),
    );
    const before = await entityIdsOf(bus, 'ha-light-kitchen');
    expect(before.light).toMatch(/^[0-9a-f-]{36}$/);
    const sensor = (await entityIdsOf(bus, 'ha-sensor-outside')).sensor!;
    const entity = await kvValue<{ platform: string; unit: string; device_class: string }>(
      bus,
      'sentinel_entities',
      sensor,
    );
    expect(entity).toMatchObject({ platform: 'sensor', unit: '°C', device_class: 'temperature' });
    expect(
      await kvValue<{ value: unknown }>(bus, 'sentinel_state', sensor, (s) => s.value === 12.5),
    ).toBeTruthy();
    const hall = await until(async () => {
      const found = await entityIdsOf(bus, `ha-device-${HALL}`);
      return Object.keys(found).length === 3 ? found : undefined;
    });
    await gateway.stop();
    gateway = await start();
    await gateway.logged((line) => line.msg === 'connected to Home Assistant');
    expect(await entityIdsOf(bus, 'ha-light-kitchen')).toEqual(before);
    expect(await entityIdsOf(bus, `ha-device-${HALL}`)).toEqual(hall);
  });

  it("groups the entities of one Home Assistant device into one device, and filters by the device's area", async () => {
    const hall = `ha-device-${HALL}`;
    const record = await kvValue<Record<string, unknown>>(
      bus,
      'sentinel_devices',
      hall,
      (d) => d.online === true,
    );
    expect(record).toMatchObject({
      protocol: 'ha',
      name: 'Hall multisensor',
      manufacturer: 'Aeotec',
      model: 'ZWA024',
      sw_version: '1.2',
      ha_device_id: HALL,
    });
    const ids = await until(async () => {
      const found = await entityIdsOf(bus, hall);
      return Object.keys(found).length === 3 ? found : undefined;
    });
    expect(Object.keys(ids).sort()).toEqual([
      'binary_sensor.hall_motion',
      'sensor.hall_temperature',
      'switch.hall_fan',
    ]);
    expect(
      await kvValue<{ value: unknown }>(
        bus,
        'sentinel_state',
        ids['sensor.hall_temperature']!,
        (s) => s.value === 19.5,
      ),
    ).toBeTruthy();
    // a command reaches the right entity of the device
    const reply = await bus.request(
      `sentinel.cmd.${ids['switch.hall_fan']}`,
      JSON.stringify({ value: true }),
      {
        timeout: 5000,
      },
    );
    expect(reply.json()).toEqual({ ok: true });
    expect(ha.state('switch.hall_fan')?.state).toBe('on');
    expect(ha.state('binary_sensor.hall_motion')?.state).toBe('off');
    // the garage device is excluded by its area; an entity of it in the hallway is not
    const garage = `ha-device-${GARAGE}`;
    await until(async () => Object.keys(await entityIdsOf(bus, garage)).length > 0 || undefined);
    expect(Object.keys(await entityIdsOf(bus, garage))).toEqual(['light.garage_lamp']);
  });

  it('marks a grouped device offline only when Home Assistant says all of its entities are unavailable', async () => {
    const hall = `ha-device-${HALL}`;
    const fan = (await entityIdsOf(bus, hall))['switch.hall_fan']!;
    const availability = await collect<{ online: boolean }>(bus, `sentinel.device.${hall}.availability`);
    const fanStates = await collect<{ value: unknown }>(bus, `sentinel.state.${fan}`);
    ha.setState('sensor.hall_temperature', 'unavailable');
    ha.setState('binary_sensor.hall_motion', 'unavailable');
    // handled in order: once the fan's next state is out, the two above were seen
    ha.setState('switch.hall_fan', 'off');
    await fanStates.next((s) => s.value === false);
    expect(availability.received).toEqual([]);
    ha.setState('switch.hall_fan', 'unavailable');
    await availability.next((a) => !a.online);
    ha.setState('binary_sensor.hall_motion', 'on');
    await availability.next((a) => a.online);
    availability.stop();
    fanStates.stop();
  });

  it('sends sentinel.cmd as call_service and replies once Home Assistant shows the new state', async () => {
    await online('ha-light-kitchen');
    const light = (await entityIdsOf(bus, 'ha-light-kitchen')).light!;
    const states = await collect<{ value: unknown }>(bus, `sentinel.state.${light}`);
    const reply = await bus.request(`sentinel.cmd.${light}`, JSON.stringify({ action: 'toggle' }), {
      timeout: 5000,
    });
    expect(reply.json()).toEqual({ ok: true });
    // the reply came after the state changed in Home Assistant
    expect(ha.state('light.kitchen')?.state).toBe('on');
    expect(ha.serviceCalls.at(-1)).toMatchObject({
      domain: 'light',
      service: 'toggle',
      entity_ids: ['light.kitchen'],
    });
    await states.next((s) => s.value === true);
    states.stop();

    const climate = (await entityIdsOf(bus, 'ha-climate-living')).climate!;
    const refused = await bus.request(`sentinel.cmd.${climate}`, JSON.stringify({ value: 99 }), {
      timeout: 5000,
    });
    expect(refused.json()).toMatchObject({ ok: false, error: { code: 'rejected' } });
    const set = await bus.request(`sentinel.cmd.${climate}`, JSON.stringify({ value: 22.5 }), {
      timeout: 5000,
    });
    expect(set.json()).toEqual({ ok: true });
    expect(ha.state('climate.living')?.attributes.temperature).toBe(22.5);

    // Home Assistant accepts the call but the device never changes: a timeout, not a false ok
    ha.ignoreServices('light.stuck');
    const stuck = (await entityIdsOf(bus, 'ha-light-stuck')).light!;
    const timedOut = await bus.request(`sentinel.cmd.${stuck}`, JSON.stringify({ value: true }), {
      timeout: 5000,
    });
    expect(timedOut.json()).toMatchObject({ ok: false, error: { code: 'timeout' } });
  });

  it('publishes a change made on the Home Assistant side', async () => {
    await online('ha-switch-fountain');
    const fountain = (await entityIdsOf(bus, 'ha-switch-fountain')).switch!;
    const states = await collect<{ value: unknown; source: { protocol: string } }>(
      bus,
      `sentinel.state.${fountain}`,
    );
    ha.setState('switch.fountain', 'on');
    expect(await states.next((s) => s.value === true)).toMatchObject({ source: { protocol: 'ha' } });
    states.stop();
  });

  it('marks entities unavailable when the connection drops or Home Assistant says so, and back after', async () => {
    await online('ha-light-kitchen');
    const availability = await collect<{ online: boolean }>(
      bus,
      'sentinel.device.ha-light-kitchen.availability',
    );
    ha.refuseConnections(true);
    ha.dropConnections();
    await availability.next((a) => !a.online);
    // each failure logged with its reason and counted; retried with backoff
    await gateway.logged((l) => l.msg === 'lost the connection to Home Assistant; reconnecting');
    await gateway.logged((l) => l.reason === 'cannot_connect' && String(l.detail).includes('503'));
    const metrics = await gateway.metrics.registry.metrics();
    expect(metrics).toMatch(/sentinel_ha_import_connection_failures_total\{reason="lost"\} [1-9]/);
    expect(metrics).toMatch(/sentinel_ha_import_connection_failures_total\{reason="cannot_connect"\} [1-9]/);
    // meanwhile a command is answered at once, not left hanging
    const light = (await entityIdsOf(bus, 'ha-light-kitchen')).light!;
    const reply = await bus.request(`sentinel.cmd.${light}`, JSON.stringify({ value: true }), {
      timeout: 5000,
    });
    expect(reply.json()).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    ha.refuseConnections(false);
    await availability.next((a) => a.online);
    const fountain = await collect<{ online: boolean }>(
      bus,
      'sentinel.device.ha-switch-fountain.availability',
    );
    ha.setState('switch.fountain', 'unavailable');
    await fountain.next((a) => !a.online);
    ha.setState('switch.fountain', 'off');
    await fountain.next((a) => a.online);
    availability.stop();
    fountain.stop();
  });

  it('does not import back an entity we export (its unique_id is our entity id), nor excluded ones', async () => {
    const light = (await entityIdsOf(bus, 'ha-light-kitchen')).light!;
    ha.addEntity({ entity_id: 'light.ignored_porch', state: 'on' });
    ha.addEntity({ entity_id: 'light.sentinel_kitchen', state: 'on', unique_id: light, platform: 'mqtt' });
    await gateway.logged((l) => l.entity_id === 'light.sentinel_kitchen' && l.reason === 'exported_by_us');
    ha.addEntity({ entity_id: 'switch.after', state: 'on' });
    await online('ha-switch-after');
    expect(await entityIdsOf(bus, 'ha-light-sentinel_kitchen')).toEqual({});
    expect(await entityIdsOf(bus, 'ha-light-ignored_porch')).toEqual({});
  });

  it('counts and skips odd attributes and unknown domains', async () => {
    await gateway.logged((l) => l.entity_id === 'climate.broken' && l.reason === 'bad_attributes');
    await gateway.logged((l) => l.entity_id === 'climate.bare' && l.reason === 'bad_attributes');
    await gateway.logged((l) => l.entity_id === 'weather.home' && l.reason === 'unknown_domain');
    // read from the gateway's own registry: what GET /metrics serves
    const metrics = await gateway.metrics.registry.metrics();
    expect(metrics).toMatch(/sentinel_ha_import_skipped_total\{reason="bad_attributes"\} [2-9]/);
    expect(metrics).toMatch(/sentinel_ha_import_skipped_total\{reason="unknown_domain"\} [1-9]/);
    expect(await entityIdsOf(bus, 'ha-climate-broken')).toEqual({});
    expect(await entityIdsOf(bus, 'ha-climate-bare')).toEqual({});
  });

  it('logs and counts a refused token without disturbing the gateway, and connects once it is right', async () => {
    // a cluster of its own: on this one the `ha_import` lock is held by the gateway above
    const otherNats = await startNats();
    const other = await SimulatedHomeAssistant.start({ token: 'the-real-one', entities: [ENTITIES[1]!] });
    const refused = await startTestGateway(otherNats, { haUrl: other.url, haToken: 'stale' });
    try {
      await refused.logged((l) => l.reason === 'auth_invalid');
      expect(await refused.metrics.registry.metrics()).toMatch(
        /sentinel_ha_import_connection_failures_total\{reason="auth_invalid"\} [1-9]/,
      );
      other.setToken('stale');
      await once(other, 'authenticated');
    } finally {
      await refused.stop();
      await other.stop();
      await otherNats.stop();
    }
  });
});

function once(emitter: SimulatedHomeAssistant, event: 'authenticated'): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}
