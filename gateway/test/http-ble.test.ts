// BLE adoption through the HTTP API (docs/http-api.md "BLE"), end to end: simulated
// sensors → the real proxy code → a real nats-server → a real gateway. With automatic
// adoption off, sensors wait in GET /api/ble/heard and serve no readings until an
// admin adopts them (encrypted ones with a bindkey that must open their data); who
// may do it, the refusals with their reasons, the audit trail; GET /api/status names
// the MQTT port devices connect to.
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { BleAir, bthomeV2, SimulatedBleSensor } from '@sentinel/simulators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatedProxy, startSimulatedProxy } from '../../test/support/ble.js';
import { collect, connectTestBus, kvValue } from '../../test/support/bus.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { BLE_SETTINGS_BUCKET } from '../src/ble/adoption.js';

interface State {
  entity_id: string;
  value: unknown;
  source: { device_id: string; key: string };
}
interface Heard {
  mac: string;
  device_id: string;
  encrypted: boolean;
  has_key: boolean;
  measurements: string[];
  rssi: number;
  proxy: string;
}

const PLAIN = 'A4:C1:38:10:00:01';
const LOCKED = 'A4:C1:38:10:00:02';
const LATER = 'A4:C1:38:10:00:03';
const NEVER_HEARD = 'A4:C1:38:10:00:99';
const BINDKEY = '231d39c1d7cc1ab1aee224cd096db932';
const reading = (m: number) => ({ packetId: m & 0xff, temperature: 15 + (m % 100) / 10, humidity: 50 });

describe('BLE adoption over HTTP', () => {
  let nats: TestNats;
  let gateway: TestGateway;
  let bus: Awaited<ReturnType<typeof connectTestBus>>;
  let air: BleAir;
  let proxy: SimulatedProxy;
  let states: Awaited<ReturnType<typeof collect<State>>>;
  const tokens: Record<'admin' | 'operator' | 'viewer', string> = { admin: '', operator: '', viewer: '' };

  const call = (role: keyof typeof tokens, method: string, path: string, body?: unknown) =>
    gateway.api(path, {
      method,
      headers: {
        authorization: `Bearer ${tokens[role]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const heard = async () => (await (await call('viewer', 'GET', '/api/ble/heard')).json()) as Heard[];
  const adopt = (role: keyof typeof tokens, mac: string, body: unknown = {}) =>
    call(role, 'POST', `/api/ble/heard/${encodeURIComponent(mac)}/adopt`, body);
  const reason = async (response: Response) =>
    ((await response.json()) as { error: { code: string; message: string } }).error;

  beforeAll(async () => {
    nats = await startNats();
    bus = await connectTestBus(nats.url);
    // adoption by hand from the start: nothing may slip in before the setting is read
    const settings = await new Kvm(jetstream(bus)).create(BLE_SETTINGS_BUCKET, { history: 1 });
    await settings.put('adoption', JSON.stringify({ auto_adopt: false, ts: Date.now() }));
    gateway = await startTestGateway(nats);
    for (const role of ['admin', 'operator', 'viewer'] as const) tokens[role] = await gateway.token(role);
    states = await collect<State>(bus, 'sentinel.state.>');
    air = new BleAir(
      [PLAIN, LOCKED, LATER].map(
        (mac, i) =>
          new SimulatedBleSensor({
            mac,
            advertiseEveryMs: 60,
            measureEveryMs: 250,
            rssi: { hall: -55 - 10 * i },
            advertisement: (m) =>
              bthomeV2(
                mac,
                reading(m),
                mac === LOCKED ? { bindkey: Buffer.from(BINDKEY, 'hex'), counter: m } : {},
              ),
          }),
      ),
    );
    proxy = await startSimulatedProxy(air, 'hall', nats.url, { statusIntervalMs: 500 });
    air.start();
  });

  afterAll(async () => {
    air?.stop();
    await proxy?.stop().catch(() => undefined);
    await bus?.close();
    await gateway?.stop();
    await nats?.stop();
  });

  it('lists the sensors heard but not adopted, encrypted or not, and serves none of them', async () => {
    await expect
      .poll(async () => (await heard()).map((h) => h.mac).sort(), { timeout: 15_000 })
      .toEqual([PLAIN, LOCKED, LATER].sort());
    const list = await heard();
    expect(list.map((h) => h.mac)).toEqual([PLAIN, LOCKED, LATER]); // nearest first
    expect(list[0]).toMatchObject({
      device_id: 'ble-a4c138100001',
      encrypted: false,
      has_key: false,
      proxy: 'hall',
      rssi: -55,
    });
    expect(list[0]?.measurements).toEqual(expect.arrayContaining(['temperature', 'humidity']));
    expect(list[1]).toMatchObject({ encrypted: true, has_key: false, measurements: [] });
    // heard for a while, yet no device and no reading
    expect((await call('viewer', 'GET', '/api/devices/ble-a4c138100001')).status).toBe(404);
    const notAdopted = /sentinel_ble_advertisements_total\{result="not_adopted"\} (\d+)/.exec(
      await gateway.metricsText(),
    );
    expect(Number(notAdopted?.[1])).toBeGreaterThan(0);
    expect(states.received.filter((s) => s.source.device_id.startsWith('ble-a4c13810'))).toEqual([]);
    expect(await (await call('viewer', 'GET', '/api/ble/settings')).json()).toEqual({ auto_adopt: false });
  });

  it('refuses viewers and operators, a malformed bindkey or address, and an address nobody heard', async () => {
    for (const role of ['viewer', 'operator'] as const) {
      expect((await adopt(role, PLAIN)).status, role).toBe(403);
      expect((await call(role, 'PUT', '/api/ble/settings', { auto_adopt: true })).status, role).toBe(403);
      expect((await call(role, 'PUT', `/api/ble/keys/${LOCKED}`, { bindkey: BINDKEY })).status, role).toBe(
        403,
      );
    }
    const short = await adopt('admin', LOCKED, { bindkey: BINDKEY.slice(2) });
    expect(short.status).toBe(400);
    expect((await reason(short)).message).toMatch(/bindkey.*32 hex digits/);
    const notHex = await call('admin', 'PUT', `/api/ble/keys/${LOCKED}`, { bindkey: `${BINDKEY.slice(1)}g` });
    expect(notHex.status).toBe(400);
    expect((await reason(notHex)).message).toMatch(/32 hex digits/);
    const badMac = await adopt('admin', 'not-a-mac');
    expect(badMac.status).toBe(400);
    expect((await reason(badMac)).message).toMatch(/not a Bluetooth address/);
    const nobody = await adopt('admin', NEVER_HEARD);
    expect(nobody.status).toBe(404);
    expect((await reason(nobody)).message).toMatch(/no proxy heard/);
    expect((await call('admin', 'DELETE', `/api/ble/keys/${NEVER_HEARD}`)).status).toBe(404);
    // encrypted: no key, or one that does not open its data
    const keyless = await adopt('admin', LOCKED);
    expect(keyless.status).toBe(400);
    expect((await reason(keyless)).message).toMatch(/encrypts its advertisements: give its bindkey/);
    const wrong = await adopt('admin', LOCKED, { bindkey: '00112233445566778899aabbccddeeff' });
    expect(wrong.status).toBe(400);
    expect((await reason(wrong)).message).toMatch(/does not open/);
    // nothing was adopted or stored by the refusals
    expect((await heard()).map((h) => h.mac)).toEqual(expect.arrayContaining([PLAIN, LOCKED]));
    expect((await heard()).find((h) => h.mac === LOCKED)?.has_key).toBe(false);
  });

  it('adopts a plain sensor with one request: a device with live readings, gone from the heard list', async () => {
    const response = await adopt('admin', PLAIN);
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ device_id: 'ble-a4c138100001' });
    await states.next(
      (s) => s.source.device_id === 'ble-a4c138100001' && s.source.key === 'temperature',
      15_000,
    );
    await kvValue<{ online: boolean }>(bus, 'sentinel_devices', 'ble-a4c138100001', (d) => d.online);
    expect((await heard()).map((h) => h.mac)).not.toContain(PLAIN);
    const again = await adopt('admin', PLAIN);
    expect(again.status).toBe(409);
  });

  it('adopts an encrypted sensor with its bindkey: its decoded readings arrive', async () => {
    const response = await adopt('admin', LOCKED, { bindkey: ` ${BINDKEY.toUpperCase()} ` });
    expect(response.status).toBe(201);
    const state = await states.next(
      (s) => s.source.device_id === 'ble-a4c138100002' && s.source.key === 'temperature',
      15_000,
    );
    expect(typeof state.value).toBe('number');
    const audit = (await (await call('admin', 'GET', '/api/audit?limit=20')).json()) as {
      action: string;
      target?: string;
      detail?: unknown;
    }[];
    const adoptions = audit.filter((e) => e.action === 'ble_adopt');
    expect(adoptions.map((e) => e.target).sort()).toEqual(['ble-a4c138100001', 'ble-a4c138100002']);
    expect(JSON.stringify(audit)).not.toMatch(new RegExp(BINDKEY, 'i'));
  });

  it('adopts every waiting sensor once automatic adoption is turned back on', async () => {
    expect((await heard()).map((h) => h.mac)).toEqual([LATER]);
    const response = await call('admin', 'PUT', '/api/ble/settings', { auto_adopt: true });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ auto_adopt: true });
    await kvValue<{ online: boolean }>(bus, 'sentinel_devices', 'ble-a4c138100003', (d) => d.online);
    const audit = (await (await call('admin', 'GET', '/api/audit?limit=5')).json()) as { action: string }[];
    expect(audit.map((e) => e.action)).toContain('ble_settings');
    expect((await call('admin', 'PUT', '/api/ble/settings', { auto_adopt: 'yes' })).status).toBe(400);
  });

  it('names the MQTT port devices connect to in GET /api/status', async () => {
    const status = (await (await call('viewer', 'GET', '/api/status')).json()) as { mqtt_port?: number };
    expect(status.mqtt_port).toBe(gateway.mqttPort);
  });
});
