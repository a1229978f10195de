// The BLE adapter end to end: simulated sensors → real proxy code over the
// simulated noble bindings → a real nats-server → a real gateway → sentinel.state.>.
import type { NatsConnection } from '@nats-io/transport-node';
import { BleKeyStore } from '@sentinel/gateway';
import { encodeAdStructures, encodeAdvBatch } from '@sentinel/protocol';
import { BleAir, bthomeV2, SimulatedBleSensor, SimulatedPeripheral } from '@sentinel/simulators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatedProxy, startSimulatedProxy } from '../../test/support/ble.js';
import { collect } from '../../test/support/bus.js';
import { startStack, type TestStack } from '../../test/support/gateway.js';

interface State {
  entity_id: string;
  value: number | boolean | string | null;
  source: { protocol: string; device_id: string; key: string };
}

const KITCHEN = 'A4:C1:38:00:00:01';
const LOCKED = 'A4:C1:38:00:00:02';
const THERMO = 'A4:C1:38:00:00:03';
const BINDKEY = Buffer.from('231d39c1d7cc1ab1aee224cd096db932', 'hex');

/** temperature is unique per measurement slot, so a repeated reading is visible */
const reading = (m: number) => ({ packetId: m & 0xff, temperature: 10 + (m % 1000) / 10, battery: 90 });

const metric = (text: string, name: string, labels = '') => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

describe('BLE adapter', () => {
  let stack: TestStack;
  let air: BleAir;
  let peripheral: SimulatedPeripheral;
  let p1: SimulatedProxy;
  let p2: SimulatedProxy;
  let states: Awaited<ReturnType<typeof collect<State>>>;
  let bus: NatsConnection;

  beforeAll(async () => {
    stack = await startStack();
    bus = stack.bus;
    states = await collect<State>(bus, 'sentinel.state.>');
    peripheral = new SimulatedPeripheral([
      {
        uuid: '180f',
        characteristics: [
          { uuid: '2a19', properties: ['read', 'notify'], value: Uint8Array.of(90) },
          { uuid: 'ff01', properties: ['read', 'write'], value: Uint8Array.of(0) },
        ],
      },
    ]);
    air = new BleAir([
      new SimulatedBleSensor({
        mac: KITCHEN,
        advertiseEveryMs: 40,
        measureEveryMs: 300,
        rssi: { p1: -50, p2: -75 },
        advertisement: (m) => bthomeV2(KITCHEN, reading(m)),
      }),
      new SimulatedBleSensor({
        mac: LOCKED,
        advertiseEveryMs: 100,
        measureEveryMs: 300,
        rssi: { p1: -60, p2: -60 },
        advertisement: (m) => bthomeV2(LOCKED, reading(m), { bindkey: BINDKEY, counter: m }),
      }),
      new SimulatedBleSensor({
        mac: THERMO,
        advertiseEveryMs: 100,
        measureEveryMs: 1000,
        rssi: { p2: -70 },
        advertisement: (m) => bthomeV2(THERMO, reading(m)),
        peripheral,
      }),
    ]);
    p1 = await startSimulatedProxy(air, 'p1', stack.nats.url, { statusIntervalMs: 500 });
    p2 = await startSimulatedProxy(air, 'p2', stack.nats.url, { statusIntervalMs: 500 });
    air.start();
  });

  afterAll(async () => {
    air?.stop();
    await p1?.stop().catch(() => undefined);
    await p2?.stop().catch(() => undefined);
    await stack?.stop();
  });

  const temperatures = (deviceId: string) =>
    states.received
      .filter((s) => s.source.device_id === deviceId && s.source.key === 'temperature')
      .map((s) => s.value);

  it('turns two proxies hearing one sensor into one stream: no reading twice, identical repeats suppressed', async () => {
    const device = 'ble-a4c138000001';
    await states.count(1);
    await states.next((s) => s.source.device_id === device && s.source.key === 'temperature', 15_000);
    // wait for several more distinct readings
    const start = temperatures(device).length;
    while (temperatures(device).length < start + 4)
      await states.next(() => temperatures(device).length >= start + 4, 15_000);
    const values = temperatures(device);
    expect(new Set(values).size).toBe(values.length);
    const entity = states.received.find((s) => s.source.device_id === device && s.source.key === 'battery');
    expect(entity?.value).toBe(90);
    const text = await stack.gateway.metricsText();
    // each measurement is advertised several times by two proxies: all but one copy dropped
    expect(metric(text, 'sentinel_ble_advertisements_total', 'result="identical"')).toBeGreaterThan(0);
    expect(metric(text, 'sentinel_ble_advertisements_total', 'result="not_owner"')).toBeGreaterThan(0);
  });

  it('hands an address to a clearly louder proxy, and keeps the stream free of repeats', async () => {
    const device = 'ble-a4c138000001';
    const sensor = air.sensor(KITCHEN)!;
    sensor.rssi = { p1: -85, p2: -45 };
    await stack.gateway.logged((l) => l.msg === 'BLE address handed to another proxy' && l.why === 'louder');
    const before = temperatures(device).length;
    await states.next(() => temperatures(device).length >= before + 3, 15_000);
    const values = temperatures(device);
    expect(new Set(values).size).toBe(values.length);
    sensor.rssi = { p1: -50, p2: -75 };
    await stack.gateway.logged((l) => l.msg === 'BLE address handed to another proxy' && l.to === 'p1');
  });

  it('keeps updating through the other proxy when the owning proxy is killed mid-stream', async () => {
    const device = 'ble-a4c138000001';
    const before = temperatures(device).length;
    await p1.kill();
    const handed = await stack.gateway.logged(
      (l) => l.msg === 'BLE address handed to another proxy' && l.device_id === device && l.from === 'p1',
    );
    expect(handed.to).toBe('p2');
    await states.next(() => temperatures(device).length >= before + 4, 15_000);
    const values = temperatures(device);
    expect(new Set(values).size).toBe(values.length);
    // the device never went offline
    expect(stack.gateway.logs.some((l) => l.msg === 'device offline' && l.device_id === device)).toBe(false);
    p1 = await startSimulatedProxy(air, 'p1', stack.nats.url, { statusIntervalMs: 500 });
  });

  it('counts bad batches from one proxy and carries on with the others', async () => {
    const device = 'ble-a4c138000001';
    const bad = [
      'not json',
      JSON.stringify({ v: 9, proxy: 'evil', seq: 0, ts: Date.now(), adv: [] }),
      JSON.stringify({ v: 1, proxy: 'someone-else', seq: 0, ts: Date.now(), adv: [] }),
      JSON.stringify({ v: 1, proxy: 'evil', seq: 0, ts: Date.now(), adv: 'nope' }),
    ];
    for (const payload of bad) bus.publish('sentinel.ble.proxy.evil.adv', payload);
    // a good batch with one broken entry and one broken AD structure
    bus.publish(
      'sentinel.ble.proxy.evil.adv',
      JSON.stringify({
        v: 1,
        proxy: 'evil',
        seq: 1,
        ts: Date.now(),
        adv: [
          ['zz', 0, -50, 0, ''],
          ['a4c1380000ff', 0, -50, 0, Buffer.from([0x09, 0x16, 0xd2]).toString('base64')],
        ],
      }),
    );
    await bus.flush();
    const before = temperatures(device).length;
    await states.next(() => temperatures(device).length >= before + 2, 15_000);
    const text = await stack.gateway.metricsText();
    expect(metric(text, 'sentinel_ble_bad_batches_total', 'proxy="evil"')).toBe(4);
    expect(metric(text, 'sentinel_ble_rejected_total', 'reason="bad_batch"')).toBe(4);
    expect(metric(text, 'sentinel_ble_rejected_total', 'reason="bad_entry"')).toBe(1);
    expect(metric(text, 'sentinel_ble_rejected_total', 'reason="malformed"')).toBe(1);
    expect(stack.gateway.logs.some((l) => l.reason === 'bad_batch' && l.proxy === 'evil')).toBe(true);
  });

  it('decodes an encrypted sensor once its bindkey is set, and counts a wrong key', async () => {
    const device = 'ble-a4c138000002';
    const rejected = async () =>
      metric(await stack.gateway.metricsText(), 'sentinel_ble_rejected_total', 'reason="decrypt_failed"');
    // no key yet: every new packet is refused, never decoded to garbage
    await expect.poll(rejected, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(temperatures(device)).toEqual([]);
    const keys = await BleKeyStore.open((await import('@nats-io/jetstream')).jetstream(bus));
    await keys.set(LOCKED, BINDKEY.toString('hex'));
    await states.next((s) => s.source.device_id === device && s.source.key === 'temperature', 15_000);
    await keys.set(LOCKED, '00112233445566778899aabbccddeeff');
    const failed = await rejected();
    await expect.poll(rejected, { timeout: 10_000 }).toBeGreaterThan(failed);
    await keys.remove(LOCKED);
  });

  it('refuses a replayed encrypted packet and an unencrypted one from a device with a key (downgrade)', async () => {
    const mac = 'A4:C1:38:00:00:07';
    const device = 'ble-a4c138000007';
    const keys = await BleKeyStore.open((await import('@nats-io/jetstream')).jetstream(bus));
    await keys.set(mac, BINDKEY.toString('hex'));
    let seq = 100;
    const send = (adv: ReturnType<typeof bthomeV2>) => {
      const entry = {
        mac: 'a4c138000007',
        addressType: 'public' as const,
        rssi: -60,
        ts: Date.now(),
        ad: encodeAdStructures({ serviceData: adv.serviceData }),
      };
      bus.publish('sentinel.ble.proxy.lab.adv', encodeAdvBatch('lab', seq++, [entry]));
    };
    const count = async (reason: string) =>
      metric(await stack.gateway.metricsText(), 'sentinel_ble_rejected_total', `reason="${reason}"`);
    // the adapter learns the key through a KV watch: repeat the first packet until it is decoded
    const first = bthomeV2(mac, { packetId: 1, temperature: 30 }, { bindkey: BINDKEY, counter: 1000 });
    const repeat = setInterval(() => send(first), 200);
    await states
      .next((s) => s.source.device_id === device && s.value === 30, 15_000)
      .finally(() => clearInterval(repeat));
    const replays = await count('replay');
    send(bthomeV2(mac, { packetId: 2, temperature: 31 }, { bindkey: BINDKEY, counter: 500 })); // an old counter
    await expect.poll(() => count('replay'), { timeout: 10_000 }).toBe(replays + 1);
    const downgrades = await count('downgrade');
    send(bthomeV2(mac, { packetId: 3, temperature: 32 })); // the same device, not encrypted
    await expect.poll(() => count('downgrade'), { timeout: 10_000 }).toBe(downgrades + 1);
    send(bthomeV2(mac, { packetId: 4, temperature: 33 }, { bindkey: BINDKEY, counter: 1001 }));
    await states.next((s) => s.source.device_id === device && s.value === 33, 15_000);
    expect(temperatures(device)).toEqual([30, 33]);
    await keys.remove(mac);
  });

  it('takes a unit the packet gives and the firmware version a BTHome device reports', async () => {
    // BTHome v2 (bthome.io format): 0x48 volume in mL (not the table's L), 0xF1 firmware 4.2.1.0
    const data = Uint8Array.of(0x40, 0x48, 0xdc, 0x87, 0xf1, 0x00, 0x01, 0x02, 0x04);
    const entry = {
      mac: 'a4c138000008',
      addressType: 'public' as const,
      rssi: -60,
      ts: Date.now(),
      ad: encodeAdStructures({ serviceData: [{ uuid: 'fcd2', data }] }),
    };
    bus.publish('sentinel.ble.proxy.lab.adv', encodeAdvBatch('lab', 500, [entry]));
    const state = await states.next((s) => s.source.device_id === 'ble-a4c138000008', 10_000);
    expect(state.value).toBe(34780);
    const api = (path: string) => stack.gateway.api(`/api${path}`);
    const entities = (await (await api('/entities')).json()) as { id: string; unit?: string }[];
    expect(entities.find((e) => e.id === state.entity_id)?.unit).toBe('mL');
    const devices = (await (await api('/devices')).json()) as { id: string; sw_version?: string }[];
    expect(devices.find((d) => d.id === 'ble-a4c138000008')?.sw_version).toBe('4.2.1.0');
  });

  it('routes GATT read, write and notify from the platform through a proxy to the peripheral', async () => {
    const device = 'ble-a4c138000003';
    await states.next((s) => s.source.device_id === device, 15_000);
    const ask = async (op: string, body: unknown) =>
      (
        await bus.request(`sentinel.ble.gatt.${device}.${op}`, JSON.stringify(body), { timeout: 15_000 })
      ).json<Record<string, unknown>>();
    // one-shot read: connect, read, disconnect
    expect(await ask('read', { service: '180f', characteristic: '2a19' })).toEqual({ ok: true, data: '5a' });
    const connected = await ask('connect', {});
    expect(connected).toMatchObject({ ok: true, proxy: 'p2' }); // only p2 hears it
    const connection = connected.connection as string;
    const written = new Promise((resolve) => peripheral.once('write', (_s, _c, data) => resolve(data)));
    expect(await ask('write', { connection, service: '180f', characteristic: 'ff01', data: '0102' })).toEqual(
      {
        ok: true,
      },
    );
    expect(await written).toEqual(Uint8Array.of(1, 2));
    const discovered = await ask('discover', { connection });
    expect(discovered.services).toEqual([
      {
        uuid: '180f',
        characteristics: [
          { uuid: '2a19', properties: ['read', 'notify'] },
          { uuid: 'ff01', properties: ['read', 'write'] },
        ],
      },
    ]);
    const notes = await collect<{ connection: string; data: string }>(bus, `sentinel.ble.notify.${device}`);
    expect(await ask('subscribe', { connection, service: '180f', characteristic: '2a19' })).toEqual({
      ok: true,
    });
    peripheral.update('180f', '2a19', Uint8Array.of(42));
    expect(await notes.next((n) => n.data === '2a')).toMatchObject({ connection });
    expect(await ask('disconnect', { connection })).toEqual({ ok: true });
    expect(await ask('read', { connection, service: '180f', characteristic: '2a19' })).toMatchObject({
      ok: false,
      error: { code: 'not_connected' },
    });
    // bad requests get specific answers
    expect(await ask('frobnicate', {})).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(
      (await bus.request('sentinel.ble.gatt.picket-x.connect', '{}', { timeout: 5000 })).json(),
    ).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(await ask('connect', { timeout_ms: 'soon' })).toMatchObject({
      ok: false,
      error: { code: 'invalid' },
    });
    expect(
      (await bus.request('sentinel.ble.gatt.ble-010203040506.connect', '{}', { timeout: 5000 })).json(),
    ).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    notes.stop();
  });
});

describe('BLE adapter availability (--ble-offline)', () => {
  const QUIET = 'A4:C1:38:00:00:04';
  const device = 'ble-a4c138000004';
  const OFFLINE_MS = 1500;
  let stack: TestStack;
  let air: BleAir;
  let p3: SimulatedProxy;

  beforeAll(async () => {
    stack = await startStack({ bleOfflineMs: OFFLINE_MS });
    air = new BleAir([
      new SimulatedBleSensor({
        mac: QUIET,
        advertiseEveryMs: 50,
        measureEveryMs: 200,
        rssi: { p3: -60 },
        advertisement: (m) => bthomeV2(QUIET, reading(m)),
      }),
    ]);
    p3 = await startSimulatedProxy(air, 'p3', stack.nats.url, { statusIntervalMs: 500 });
  });

  afterAll(async () => {
    air?.stop();
    await p3?.stop().catch(() => undefined);
    await stack?.stop();
  });

  it('marks a device offline once no proxy has heard it for the configured time, and online when heard again', async () => {
    const availability = await collect<{ device_id: string; online: boolean; ts: number }>(
      stack.bus,
      `sentinel.device.${device}.availability`,
    );
    air.start();
    await availability.next((a) => a.online, 15_000);
    air.sensor(QUIET)!.rssi = {}; // out of the proxy's range
    const silentSince = Date.now();
    const offline = await availability.next((a) => !a.online, 15_000);
    // not before the configured time (the default would be 60 s)
    expect(offline.ts - silentSince).toBeGreaterThanOrEqual(OFFLINE_MS - 100);
    air.sensor(QUIET)!.rssi = { p3: -60 };
    await availability.next((a) => a.online && a.ts > offline.ts, 15_000);
    availability.stop();
  });
});
