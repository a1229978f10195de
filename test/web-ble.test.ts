// The web app's Bluetooth page and command controls as a person uses them, in Debian's
// Chromium against a real gateway on a real nats-server, with simulated sensors heard
// by the real BLE proxy code: a plain sensor adopted with one click, an encrypted one
// adopted with its bindkey (a malformed key refused inline, a wrong one by the
// gateway) and its decoded reading shown, a number entity set within its range (a
// refused value leaves nothing on screen), a select and a lock (unlock asks first),
// a viewer seeing no controls, the MQTT address on the add-a-device page.
// Screenshots at 1280×800 and 390×844 go to .artifacts/web/.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BleAir, bthomeV2, SimulatedBleSensor } from '@sentinel/simulators';
import type { MqttClient } from 'mqtt';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatedProxy, startSimulatedProxy } from './support/ble.js';
import { connectTestBus } from './support/bus.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { startNats, type TestNats } from './support/nats.js';
import { connectDevice } from './support/picket.js';

const ARTIFACTS = fileURLToPath(new URL('../.artifacts/web/', import.meta.url));
const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;

const PLAIN = 'A4:C1:38:20:00:01';
const LOCKED = 'A4:C1:38:20:00:02';
const SHED = 'A4:C1:38:20:00:03';
const BINDKEY = '231d39c1d7cc1ab1aee224cd096db932';
const PASSWORD = 'correct horse battery';

/** A boiler controller: a number with a range and step, a select and a lock; it refuses setpoints above 75. */
const BOILER_HELLO = {
  v: 1,
  fw: '2.0.0',
  chip: 'esp32c3',
  name: 'Boiler',
  entities: [
    { key: 'setpoint', platform: 'number', name: 'Boiler setpoint', unit: '°C', min: 30, max: 80, step: 0.5 },
    { key: 'mode', platform: 'select', name: 'Heating mode', options: ['eco', 'comfort', 'off'] },
    { key: 'door', platform: 'lock', name: 'Boiler room door' },
  ],
};

async function boiler(gateway: TestGateway): Promise<MqttClient> {
  const token = await gateway.addDevice('boiler');
  const device = await connectDevice(gateway, 'boiler', token);
  let seq = 1;
  const state = (values: Record<string, unknown>) =>
    device.publishAsync('picket/boiler/state', JSON.stringify({ seq: seq++, values }), { qos: 1 });
  await device.subscribeAsync('picket/boiler/cmd', { qos: 1 });
  device.on('message', (topic, payload) => {
    if (topic !== 'picket/boiler/cmd') return;
    const cmd = JSON.parse(payload.toString()) as {
      cid: string;
      key: string;
      value?: unknown;
      action?: string;
    };
    const refuse = cmd.key === 'setpoint' && typeof cmd.value === 'number' && cmd.value > 75;
    void (async () => {
      if (!refuse) {
        const value = cmd.key === 'door' ? cmd.action === 'unlock' : cmd.value;
        await state({ [cmd.key]: value });
      }
      await device.publishAsync(
        'picket/boiler/cmd/result',
        JSON.stringify(
          refuse
            ? { cid: cmd.cid, ok: false, error: 'above the safe limit of 75 °C' }
            : { cid: cmd.cid, ok: true },
        ),
        { qos: 1 },
      );
    })();
  });
  await device.publishAsync('picket/boiler/status', 'online', { qos: 1, retain: true });
  await device.publishAsync('picket/boiler/hello', JSON.stringify(BOILER_HELLO), { qos: 1 });
  await state({ setpoint: 55, mode: 'eco', door: false });
  return device;
}

async function logIn(page: Page, origin: string, user: string): Promise<void> {
  await page.goto(`${origin}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Home' }).waitFor();
}

describe('Bluetooth and command controls in Chromium', () => {
  let nats: TestNats;
  let bus: NatsConnection;
  let gateway: TestGateway;
  let air: BleAir;
  let proxy: SimulatedProxy;
  let device: MqttClient;
  let browser: Browser;
  let page: Page;
  let origin: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    nats = await startNats();
    bus = await connectTestBus(nats.url);
    // sensors wait to be adopted from the start (the page shows the setting)
    const settings = await new Kvm(jetstream(bus)).create('sentinel_ble_settings', { history: 1 });
    await settings.put('adoption', JSON.stringify({ auto_adopt: false, ts: Date.now() }));
    gateway = await startTestGateway(nats);
    origin = `http://127.0.0.1:${gateway.httpPort}`;
    await gateway.people.users.addWithPassword('owner', 'admin', PASSWORD);
    await gateway.people.users.addWithPassword('guest', 'viewer', PASSWORD);
    device = await boiler(gateway);
    air = new BleAir([
      new SimulatedBleSensor({
        mac: PLAIN,
        advertiseEveryMs: 80,
        measureEveryMs: 400,
        rssi: { hall: -52 },
        advertisement: (m) =>
          bthomeV2(
            PLAIN,
            { packetId: m & 0xff, temperature: 19 + (m % 10) / 10, humidity: 48 },
            { name: 'Pantry' },
          ),
      }),
      new SimulatedBleSensor({
        mac: LOCKED,
        advertiseEveryMs: 80,
        measureEveryMs: 400,
        rssi: { hall: -71 },
        advertisement: (m) =>
          bthomeV2(
            LOCKED,
            { packetId: m & 0xff, temperature: 4 + (m % 10) / 10 },
            { bindkey: Buffer.from(BINDKEY, 'hex'), counter: m, name: 'Fridge' },
          ),
      }),
      // never adopted: what a waiting encrypted sensor looks like, for the screenshots
      new SimulatedBleSensor({
        mac: SHED,
        advertiseEveryMs: 200,
        measureEveryMs: 1000,
        rssi: { hall: -86 },
        advertisement: (m) =>
          bthomeV2(
            SHED,
            { packetId: m & 0xff, temperature: 11 },
            { bindkey: Buffer.alloc(16, 7), counter: m, name: 'Shed' },
          ),
      }),
    ]);
    proxy = await startSimulatedProxy(air, 'hall', nats.url, { statusIntervalMs: 500 });
    air.start();
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    page = await (await browser.newContext({ viewport: SIZES[0] })).newPage();
    await logIn(page, origin, 'owner');
  }, 60_000);

  afterAll(async () => {
    air?.stop();
    await proxy?.stop().catch(() => undefined);
    await device?.endAsync().catch(() => undefined);
    await browser?.close();
    await bus?.close();
    await gateway?.stop();
    await nats?.stop();
  });

  it('adopts a plain BLE sensor with one click and shows its readings', async () => {
    await page.goto(`${origin}/ble`);
    await page.getByRole('heading', { name: 'Sensors nearby' }).waitFor();
    expect(await page.getByLabel('Add new sensors automatically').isChecked()).toBe(false);
    const card = page.getByRole('listitem', { name: `Pantry (${PLAIN})` });
    await card.waitFor({ timeout: 15_000 });
    await card.getByText('Not encrypted').waitFor();
    await card.getByText(/temperature, humidity/).waitFor();
    await card.getByText(/-52 dBm, strong, via hall/).waitFor();
    await card.getByRole('button', { name: `Adopt Pantry (${PLAIN})` }).click();
    await page.getByRole('status').getByText('Pantry was added.').waitFor({ timeout: 10_000 });
    await expect.poll(() => card.count()).toBe(0);
    await page.getByRole('link', { name: 'Open Pantry' }).click();
    await page.getByRole('heading', { level: 1, name: 'Pantry' }).waitFor();
    await page.locator('.entity-value', { hasText: '°C' }).first().waitFor({ timeout: 15_000 });
  }, 60_000);

  it('adopts an encrypted sensor once its bindkey is right, and shows the decoded reading', async () => {
    await page.goto(`${origin}/ble`);
    const card = page.getByRole('listitem', { name: `Fridge (${LOCKED})` });
    await card.waitFor({ timeout: 15_000 });
    await card.getByText('Encrypted', { exact: true }).waitFor();
    await card.getByText('unknown until its bindkey opens its data').waitFor();
    const key = card.getByLabel('Bindkey');
    const adopt = card.getByRole('button', { name: `Adopt Fridge (${LOCKED})` });
    // malformed: refused on the page, before any request
    await key.fill('231d39c1d7cc1ab1aee224cd096db9zz');
    await adopt.click();
    await card.getByText('A bindkey has only the digits 0–9 and the letters a–f.').waitFor();
    expect(await key.getAttribute('aria-invalid')).toBe('true');
    await key.fill('231d39c1d7cc');
    await card.getByText('A bindkey is 32 hex digits; this has 12.').waitFor();
    // well-formed but wrong: the gateway says so
    await key.fill('00112233445566778899aabbccddeeff');
    await adopt.click();
    await card
      .getByRole('alert')
      .getByText(/does not open/)
      .waitFor({ timeout: 10_000 });
    await key.fill(BINDKEY);
    await adopt.click();
    await page.getByRole('status').getByText('Fridge was added.').waitFor({ timeout: 10_000 });
    await page.getByRole('link', { name: 'Open Fridge' }).click();
    await page.getByRole('heading', { level: 1, name: 'Fridge' }).waitFor();
    // 4.x °C: only the bindkey opens that number
    await page
      .locator('.entity-value', { hasText: /^4(\.\d+)? °C$/ })
      .first()
      .waitFor({ timeout: 15_000 });
  }, 60_000);

  it('sets a number within its range, shows a refusal and keeps nothing it did not do', async () => {
    await page.goto(`${origin}/devices/picket-boiler`);
    const field = page.getByLabel('New value for Boiler setpoint');
    await expect.poll(() => field.inputValue(), { timeout: 10_000 }).toBe('55');
    expect(await field.getAttribute('min')).toBe('30');
    expect(await field.getAttribute('max')).toBe('80');
    expect(await field.getAttribute('step')).toBe('0.5');
    await page.getByText('30 to 80 °C, steps of 0.5').waitFor();
    const set = page.getByRole('button', { name: 'Set Boiler setpoint' });
    // out of range or off the step: said at once, nothing sent
    await field.fill('12');
    await page.getByText('At least 30.').waitFor();
    expect(await set.isDisabled()).toBe(true);
    await field.fill('45.3');
    await page.getByText('In steps of 0.5.').waitFor();
    await field.fill('45.5');
    await field.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Done.' }).first().waitFor({ timeout: 10_000 });
    await page.locator('.entity-value', { hasText: '45.5 °C' }).waitFor();
    // the device refuses 78: its reason is shown, the field goes back to what the device has
    await field.fill('78');
    await set.click();
    await page
      .getByRole('status')
      .filter({ hasText: /Failed: .*above the safe limit of 75 °C/ })
      .waitFor({ timeout: 10_000 });
    expect(await field.inputValue()).toBe('45.5');
    expect(await page.locator('.entity-value', { hasText: '78' }).count()).toBe(0);

    const mode = page.getByLabel('Choice for Heating mode');
    await mode.selectOption('comfort');
    await page.getByRole('button', { name: 'Set Heating mode' }).click();
    await page.locator('.entity-value', { hasText: 'comfort' }).waitFor({ timeout: 10_000 });

    // unlocking asks first; locking does not
    await page.getByRole('button', { name: 'Unlock Boiler room door' }).click();
    await page.getByText('Unlock Boiler room door?').waitFor();
    await page.getByRole('button', { name: 'Yes, unlock' }).click();
    await page.locator('.entity-value', { hasText: 'Unlocked' }).waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Lock Boiler room door' }).click();
    await page.locator('.entity-value', { hasText: 'Locked' }).waitFor({ timeout: 10_000 });
  }, 60_000);

  it('shows the MQTT address devices connect to on the add-a-device page', async () => {
    await page.goto(`${origin}/devices/new`);
    await page
      .getByTestId('mqtt-address')
      .filter({ hasText: `mqtt://127.0.0.1:${gateway.mqttPort}` })
      .waitFor({ timeout: 10_000 });
  });

  it('keeps screenshots of the Bluetooth, add-a-device and device pages at desktop and phone sizes', async () => {
    const pages: Record<string, string> = {
      'ble-adoption': '/ble',
      'add-device-ble': '/devices/new',
      'device-controls': '/devices/picket-boiler',
      'dashboard-controls': '/',
    };
    for (const size of SIZES) {
      await page.setViewportSize(size);
      for (const [name, path] of Object.entries(pages)) {
        await page.goto(`${origin}${path}`);
        await page.getByRole('heading').first().waitFor({ timeout: 10_000 });
        if (name === 'ble-adoption') {
          await page.getByRole('heading', { name: 'Proxies' }).waitFor();
          await page.getByRole('listitem', { name: `Shed (${SHED})` }).waitFor();
        }
        if (name !== 'add-device-ble')
          await page.getByRole('button', { name: /^Set / }).or(page.getByText('hall')).first().waitFor();
        const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
        expect(overflow, `${name} at ${size.width}px`).toBeLessThanOrEqual(0);
        // every control a finger can reach
        const small =
          await page.evaluate(`[...document.querySelectorAll('main button, main input:not([type=checkbox]), main select')]
          .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().height < 44).length`);
        expect(small, `${name} at ${size.width}px: controls under 44 px`).toBe(0);
        await page.screenshot({
          path: join(ARTIFACTS, `${name}-${size.width}x${size.height}.png`),
          fullPage: true,
        });
      }
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${origin}/devices/picket-boiler`);
    await page.getByRole('button', { name: 'Set Boiler setpoint' }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'device-controls-dark-390x844.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize(SIZES[0]);
  }, 120_000);

  it('shows a viewer the values but no command controls and no adoption', async () => {
    const viewer = await browser.newContext({ viewport: SIZES[1] });
    const guest = await viewer.newPage();
    await logIn(guest, origin, 'guest');
    await guest.goto(`${origin}/devices/picket-boiler`);
    await guest.locator('.entity-value', { hasText: '45.5 °C' }).waitFor({ timeout: 10_000 });
    for (const name of [/^Set /, /^Lock /, /^Unlock /, /^Turn on /])
      expect(await guest.getByRole('button', { name }).count(), String(name)).toBe(0);
    expect(await guest.getByRole('spinbutton').count()).toBe(0);
    await guest.goto(`${origin}/ble`);
    await guest.getByText('An admin can add them.', { exact: false }).waitFor();
    expect(await guest.getByRole('button', { name: /^Adopt / }).count()).toBe(0);
    expect(await guest.getByLabel('Add new sensors automatically').count()).toBe(0);
    await viewer.close();
  }, 60_000);
});
