// The web app's Updates page as a person uses it, in Debian's Chromium against a real
// gateway on a real nats-server with a simulated picket: a paused rollout names the
// device it paused at, Resume goes on (the next device is offered the image and the
// rollout completes), and a viewer sees the rollout but no buttons, and is refused by
// the API.
import { rm } from 'node:fs/promises';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { PicketDevice, waitForEvent } from '@sentinel/simulators';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToCatalog, appImage, dataDirForTest, OLD_VERSION } from '../gateway/test/ota-support.js';
import { connectTestBus } from './support/bus.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { startNats, type TestNats } from './support/nats.js';

const PASSWORD = 'correct horse battery';

async function logIn(page: Page, origin: string, user: string): Promise<void> {
  await page.goto(`${origin}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Home' }).waitFor();
}

describe('the Updates page in Chromium', () => {
  let nats: TestNats;
  let bus: NatsConnection;
  let gateway: TestGateway;
  let hall: PicketDevice;
  let browser: Browser;
  let origin: string;
  let dataDir: string;

  beforeAll(async () => {
    nats = await startNats();
    bus = await connectTestBus(nats.url);
    dataDir = await dataDirForTest();
    gateway = await startTestGateway(nats, { dataDir });
    origin = `http://127.0.0.1:${gateway.httpPort}`;
    await gateway.people.users.addWithPassword('owner', 'admin', PASSWORD);
    await gateway.people.users.addWithPassword('guest', 'viewer', PASSWORD);
    const image = await addToCatalog(dataDir, appImage('1.6.0'));
    hall = new PicketDevice({
      id: 'hall',
      token: await gateway.addDevice('hall'),
      gateway: `mqtt://127.0.0.1:${gateway.mqttPort}`,
      intervalMs: 60_000,
      hello: { fw: OLD_VERSION },
      ota: { rebootMs: 20 },
    });
    const acked = waitForEvent(hall, 'acked', { timeoutMs: 15_000 });
    hall.start();
    await acked;
    // a rollout that paused on its canary: what the engine leaves when a device does not come back
    const now = Date.now();
    const record = (state: string, extra: Record<string, unknown> = {}) => ({
      image,
      from: OLD_VERSION,
      state,
      updated: now,
      ...extra,
    });
    const kv = await new Kvm(jetstream(bus)).open('sentinel_ota');
    await kv.put(
      'rollout',
      JSON.stringify({
        id: 'web-rollout',
        version: '1.6.0',
        allow_downgrade: false,
        deadline_ms: 60_000,
        created: now,
        updated: now,
        status: 'paused',
        paused_device: 'porch',
        paused_reason: 'porch did not come back on 1.6.0 within the deadline (1m)',
        stages: [['porch'], ['hall']],
        canary: 1,
        stage: 0,
        devices: {
          porch: record('failed', { reason: 'did not come back on 1.6.0 within the deadline (1m)' }),
          hall: record('pending'),
        },
      }),
    );
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  }, 60_000);

  afterAll(async () => {
    await hall?.stop();
    await browser?.close();
    await bus?.close();
    await gateway?.stop();
    await nats?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  // alone this takes ~8 s (two log-ins with scrypt, the update, two engine ticks); a full
  // `npm test` on two cores runs it several times slower, and it once ran out of 30 s
  it('names the device a rollout paused at; Resume goes on; a viewer gets no buttons and a 403', async () => {
    const [viewer, page] = await Promise.all([
      browser.newContext().then((c) => c.newPage()),
      browser.newContext().then((c) => c.newPage()),
    ]);
    await Promise.all([logIn(viewer, origin, 'guest'), logIn(page, origin, 'owner')]);
    await Promise.all([viewer.goto(`${origin}/updates`), page.goto(`${origin}/updates`)]);
    await viewer.getByTestId('paused').getByText('porch', { exact: true }).waitFor();
    for (const name of ['Pause', 'Resume', 'Abort'])
      expect(await viewer.getByRole('button', { name }).count(), name).toBe(0);
    const refused = await fetch(`${origin}/api/ota/rollout/resume`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await gateway.token('viewer')}`,
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(refused.status).toBe(403);
    // bad input from an admin: refused with the reason, and the rollout is left as it was
    const admin = {
      authorization: `Bearer ${await gateway.token('admin')}`,
      'content-type': 'application/json',
    };
    const post = (body: unknown) =>
      fetch(`${origin}/api/ota/rollout`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    const noVersion = await post({ devices: ['hall'] });
    expect(noVersion.status).toBe(400);
    expect(((await noVersion.json()) as { error: { message: string } }).error).toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/^body\.version: /),
    });

    const paused = page.getByTestId('paused');
    await paused.getByText('porch', { exact: true }).waitFor();
    await expect.poll(() => paused.textContent()).toContain('did not come back on 1.6.0');
    await page.getByRole('cell', { name: '1.6.0' }).first().waitFor(); // the catalog
    const offered = waitForEvent(hall, 'ota', { filter: (e) => e.kind === 'download', timeoutMs: 20_000 });
    await page.getByRole('button', { name: 'Resume' }).click();
    await offered;
    // the device updates, is confirmed, and the rollout completes: the page follows
    await page.getByText('Completed', { exact: true }).waitFor({ timeout: 20_000 });
    await page.locator('tr[data-device="hall"]').getByText('Updated').waitFor();
    expect(hall.hello.fw).toBe('1.6.0');
    expect(await paused.count()).toBe(0);
    // a rollout naming a device the gateway does not know: refused by the leader, nothing started
    const ghost = await post({ version: '1.6.0', devices: ['hall', 'ghost'] });
    expect(ghost.status).toBe(422);
    expect(((await ghost.json()) as { error: { message: string } }).error.message).toMatch(
      /^refused \(unknown_devices\): unknown device: ghost \(/,
    );
    const after = await fetch(`${origin}/api/ota/rollout`, { headers: admin });
    expect(((await after.json()) as { rollout: { id: string; status: string } }).rollout).toMatchObject({
      id: 'web-rollout',
      status: 'completed',
    });
  }, 60_000);
});
