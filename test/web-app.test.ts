// The household web app as a person uses it, in Debian's Chromium against a real
// `sentinel gateway` process on a real nats-server: onboarding from the link the
// gateway prints, a reading changing live, a switch commanded, an entity renamed
// (and the name kept over the device's next hello), a history chart of readings
// the test published, a device added and seen online, a viewer refused, logout.
// Screenshots of every page at 1280×800 and 390×844 go to .artifacts/web/.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliGateway, killStrays, runCli, startLocalGateway } from './support/cli.js';
import { startNats, type TestNats } from './support/nats.js';
import { CONTRACT_HELLO, confirmCommands, connectDevice } from './support/picket.js';

const ARTIFACTS = fileURLToPath(new URL('../.artifacts/web/', import.meta.url));
const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;

interface Entity {
  id: string;
  name: string;
  platform: string;
  bindings: { key: string }[];
}

/** A picket device that answers commands as firmware does: the new state, and the result. */
async function answeringDevice(
  gateway: { mqttPort: number },
  id: string,
  token: string,
): Promise<MqttClient> {
  const device = await connectDevice(gateway, id, token);
  let seq = 100;
  await confirmCommands(device, id, (cmd) => {
    void device.publishAsync(
      `picket/${id}/state`,
      JSON.stringify({ seq: seq++, values: { [cmd.key]: cmd.value } }),
      {
        qos: 1,
      },
    );
  });
  await device.publishAsync(`picket/${id}/status`, 'online', { qos: 1, retain: true });
  await device.publishAsync(`picket/${id}/hello`, JSON.stringify(CONTRACT_HELLO), { qos: 1 });
  return device;
}

describe('the web app in Chromium', () => {
  let nats: TestNats;
  let gateway: CliGateway;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let origin: string;
  const devices: MqttClient[] = [];
  const store = () => ['--nats', nats.url];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    nats = await startNats();
    gateway = await startLocalGateway(['--nats', nats.url, '--node-id', 'web-test']);
    origin = `http://127.0.0.1:${gateway.ready.http_port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    admin = await browser.newContext({ viewport: SIZES[0] });
    page = await admin.newPage();
  }, 60_000);

  afterAll(async () => {
    for (const device of devices) await device.endAsync().catch(() => undefined);
    await browser?.close();
    await gateway?.stop();
    await nats?.stop();
    killStrays();
  });

  it('onboards the owner from the printed link, then shows readings live and commands a switch', async () => {
    const link = gateway.ready.onboarding_url;
    expect(link, 'the ready line carries the first-start onboarding link').toMatch(/\/onboarding#.+/);
    // the link names the host the gateway was asked for; the test reaches it on 127.0.0.1
    await page.goto(`${origin}${new URL(link as string).pathname}${new URL(link as string).hash}`);
    await expect.poll(() => page.getByText('Welcome, admin').isVisible(), { timeout: 10_000 }).toBe(true);
    await page.getByLabel('New password').fill('correct horse battery');
    await page.getByLabel('Repeat the password').fill('correct horse battery');
    await page.getByLabel('Repeat the password').press('Enter');
    await page.getByRole('heading', { name: 'Home' }).waitFor();

    const { token } = JSON.parse((await runCli(['device', 'add', 'porch', ...store()])).stdout) as {
      token: string;
    };
    const porch = await answeringDevice({ mqttPort: gateway.ready.mqtt_port }, 'porch', token);
    devices.push(porch);
    await porch.publishAsync(
      'picket/porch/state',
      JSON.stringify({ seq: 1, values: { temperature: 20.5 } }),
      {
        qos: 1,
      },
    );
    await page.getByText('20.5 °C').waitFor({ timeout: 15_000 });
    // a new reading replaces it on screen, without a reload
    await porch.publishAsync(
      'picket/porch/state',
      JSON.stringify({ seq: 2, values: { temperature: 21.5 } }),
      {
        qos: 1,
      },
    );
    await page.getByText('21.5 °C').waitFor({ timeout: 10_000 });
    await expect.poll(() => page.getByText('20.5 °C').count()).toBe(0);

    const relay = page.getByRole('button', { name: /^Turn on / }).first();
    await relay.click();
    await page.getByRole('status').filter({ hasText: 'Done.' }).first().waitFor({ timeout: 10_000 });
  }, 90_000);

  it('renames an entity, keeps the name over the next hello, and charts its history', async () => {
    const entities = (await (await page.request.get(`${origin}/api/entities`)).json()) as Entity[];
    const temperature = entities.find((e) => e.bindings.some((b) => b.key === 'temperature'));
    expect(temperature).toBeDefined();
    await page.goto(`${origin}/devices/picket-porch`);
    await page.getByRole('button', { name: `Rename ${temperature?.name}` }).click();
    await page.getByLabel('Entity name').fill('Smoker chamber');
    await page.getByLabel('Entity name').press('Enter');
    await page.getByRole('heading', { level: 3, name: 'Smoker chamber' }).waitFor();

    const porch = devices[0] as MqttClient;
    await porch.publishAsync('picket/porch/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
    for (let seq = 3; seq < 9; seq++)
      await porch.publishAsync(
        'picket/porch/state',
        JSON.stringify({ seq, values: { temperature: 20 + seq } }),
        {
          qos: 1,
        },
      );
    await page.reload();
    await page.getByRole('heading', { level: 3, name: 'Smoker chamber' }).waitFor();

    await page.getByRole('link', { name: 'History of Smoker chamber' }).click();
    await page.getByRole('heading', { name: 'History of Smoker chamber' }).waitFor();
    const chart = page.getByRole('img', { name: /Chart of Smoker chamber/ });
    await chart.locator('canvas').first().waitFor({ timeout: 10_000 });
    const csv = await page.request.get(`${origin}/api/entities/${temperature?.id}/history.csv?range=1h`);
    expect(await csv.text()).toMatch(/,28(\.0+)?\r?\n?$/m);
  }, 60_000);

  it('adds a device and shows it online once it connects', async () => {
    await page.goto(`${origin}/devices/new`);
    await page.getByLabel('Device id').fill('shed');
    await page.getByRole('button', { name: 'Add device' }).click();
    const token = await page.getByLabel('Device token').inputValue();
    expect(token.length).toBeGreaterThan(20);
    devices.push(await answeringDevice({ mqttPort: gateway.ready.mqtt_port }, 'shed', token));
    await page.getByText('Online').first().waitFor({ timeout: 15_000 });
  }, 30_000);

  it('keeps screenshots of every page at desktop and phone sizes', async () => {
    const entities = (await (await page.request.get(`${origin}/api/entities`)).json()) as Entity[];
    const smoker = entities.find((e) => e.name === 'Smoker chamber');
    const pages: Record<string, string> = {
      dashboard: '/',
      device: '/devices/picket-porch',
      history: `/entities/${smoker?.id}/history`,
      'add-device': '/devices/new',
      ble: '/ble',
      cluster: '/cluster',
      users: '/users',
      audit: '/audit',
    };
    for (const size of SIZES) {
      await page.setViewportSize(size);
      for (const [name, path] of Object.entries(pages)) {
        await page.goto(`${origin}${path}`);
        await page
          .getByRole('heading')
          .first()
          .waitFor({ timeout: 10_000 })
          .catch(async (error: unknown) => {
            await page.screenshot({ path: join(ARTIFACTS, `failed-${name}.png`) });
            throw new Error(`${name} (${path}) shows no heading`, { cause: error });
          });
        // no horizontal scrolling on a phone
        const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
        expect(overflow, `${name} at ${size.width}px`).toBeLessThanOrEqual(0);
        await page.screenshot({
          path: join(ARTIFACTS, `${name}-${size.width}x${size.height}.png`),
          fullPage: true,
        });
      }
    }
    await page.setViewportSize(SIZES[0]);
  }, 120_000);

  it('refuses a viewer’s command, and logs out', async () => {
    const added = await runCli(
      ['user', 'add', 'guest', '--role', 'viewer', '--password-stdin', ...store()],
      {},
      'guest password 123\n',
    );
    expect(added.code, added.stderr).toBe(0);
    const viewer = await browser.newContext({ viewport: SIZES[1] });
    const guest = await viewer.newPage();
    await guest.goto(`${origin}/login`);
    await guest.getByLabel('User name').fill('guest');
    await guest.getByLabel('Password').fill('guest password 123');
    await guest.getByRole('button', { name: 'Log in' }).click();
    await guest.getByRole('heading', { name: 'Home' }).waitFor();
    await guest.getByText('Smoker chamber').waitFor();
    expect(await guest.getByRole('button', { name: /^Turn on / }).count()).toBe(0);
    // what the page's own script would send: same origin, the session cookie, refused by role
    const entities = (await (await guest.request.get(`${origin}/api/entities`)).json()) as Entity[];
    const relay = entities.find((e) => e.platform === 'switch');
    const status = await guest.evaluate(async (id) => {
      const response = await fetch(`/api/entities/${id}/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: false }),
      });
      return response.status;
    }, relay?.id);
    expect(status).toBe(403);

    await guest.getByRole('button', { name: /^guest/ }).click();
    await guest.getByRole('button', { name: 'Log out' }).click();
    await guest.getByRole('heading', { name: 'Log in' }).waitFor();
    expect((await guest.request.get(`${origin}/api/entities`)).status()).toBe(401);
    await viewer.close();
  }, 60_000);
});
