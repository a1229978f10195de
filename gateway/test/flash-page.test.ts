// The browser flasher at /flash in real headless Chromium: the page lists the gateway's
// firmware, flashes a simulated ESP32-S3 through a navigator.serial shim bridged to the
// ROM simulator over WebSocket, provisions it, and the device then connects with what
// the page wrote. A screenshot of the finished page is kept under .artifacts/.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePartitionTable, parsePartitionCsv, readProvisioning } from '@sentinel/firmware';
import { EspRomSimulator, serveEspRomOverWebSocket, type WsBridge } from '@sentinel/simulators';
import { type Browser, chromium } from 'playwright-core';

interface Element {
  classList: { contains(name: string): boolean };
  textContent: string | null;
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionedPicketEntities } from '../../firmware/test/provisioned-picket.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { startNats, type TestNats } from '../../test/support/nats.js';

const ARTIFACTS = fileURLToPath(new URL('../../.artifacts/', import.meta.url));

/** navigator.serial for the page: one Web-Serial-shaped port over the simulator's WebSocket bridge. */
function serialShim(url: string): void {
  class WsSerialPort {
    readable: ReadableStream<Uint8Array> | null = null;
    writable: WritableStream<Uint8Array> | null = null;
    private ws: WebSocket | undefined;
    private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    getInfo() {
      return {};
    }
    async open(options: { baudRate: number }) {
      if (!this.ws) {
        const ws = new WebSocket(url);
        ws.binaryType = 'arraybuffer';
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = reject;
        });
        ws.onmessage = (event) => {
          if (typeof event.data !== 'string')
            this.controller?.enqueue(new Uint8Array(event.data as ArrayBuffer));
        };
        this.ws = ws;
      }
      const ws = this.ws;
      ws.send(JSON.stringify({ type: 'baud', baud: options.baudRate }));
      this.readable = new ReadableStream<Uint8Array>({
        start: (controller) => {
          this.controller = controller;
        },
      });
      this.writable = new WritableStream<Uint8Array>({ write: (chunk) => ws.send(chunk) });
    }
    async setSignals(signals: { dataTerminalReady?: boolean; requestToSend?: boolean }) {
      const message: Record<string, unknown> = { type: 'signals' };
      if (signals.dataTerminalReady !== undefined) message.dtr = signals.dataTerminalReady;
      if (signals.requestToSend !== undefined) message.rts = signals.requestToSend;
      this.ws?.send(JSON.stringify(message));
    }
    async close() {
      try {
        this.controller?.close();
      } catch {
        // already cancelled by the reader
      }
      this.controller = undefined;
      this.readable = null;
      this.writable = null;
    }
  }
  const port = new WsSerialPort();
  Object.defineProperty((globalThis as unknown as { navigator: object }).navigator, 'serial', {
    value: { requestPort: async () => port, getPorts: async () => [port] },
  });
}

const TABLE = encodePartitionTable(
  parsePartitionCsv(
    'nvs, data, nvs, 0x9000, 0x6000\nphy_init, data, phy, 0xf000, 0x1000\nfactory, app, factory, 0x10000, 1M\n',
  ),
);
const BOOTLOADER = Uint8Array.from({ length: 20_000 }, (_, i) => (i === 0 ? 0xe9 : (i * 13) & 0xff));
const APP = Uint8Array.from({ length: 200_000 }, (_, i) => ((i >>> 10) % 2 ? (i * 7919) >>> 3 : i) & 0xff);

let nats: TestNats;
let gateway: TestGateway;
let dataDir: string;
let browser: Browser;
let base: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sentinel-flash-page-'));
  const build = join(dataDir, 'firmware', 'picket-demo');
  await mkdir(build, { recursive: true });
  await writeFile(join(build, 'bootloader.bin'), BOOTLOADER);
  await writeFile(join(build, 'partitions.bin'), TABLE);
  await writeFile(join(build, 'picket.bin'), APP);
  await writeFile(
    join(build, 'manifest.json'),
    JSON.stringify({
      name: 'Picket demo',
      version: '1.4.0',
      builds: [
        {
          chipFamily: 'ESP32-S3',
          parts: [
            { path: 'bootloader.bin', offset: 0 },
            { path: 'partitions.bin', offset: 0x8000 },
            { path: 'picket.bin', offset: 0x10000 },
          ],
        },
      ],
    }),
  );
  // a broken build is listed as a problem, not hidden
  await mkdir(join(dataDir, 'firmware', 'half-copied'));
  await writeFile(join(dataDir, 'firmware', 'half-copied', 'manifest.json'), '{"name":');
  nats = await startNats();
  gateway = await startTestGateway(nats, { dataDir });
  base = `http://127.0.0.1:${gateway.httpPort}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await nats?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A page logged in as an admin (the flasher's routes need one). */
async function adminPage() {
  // the Web Serial shim reaches the simulated chip over a WebSocket on another port, which
  // the page's CSP (connect-src 'self') rightly forbids: the shim stands in for the browser
  const context = await browser.newContext({ bypassCSP: true });
  await context.addCookies([{ name: 'sentinel_session', value: await gateway.sessionCookie(), url: base }]);
  return context.newPage();
}

describe('the /flash page in Chromium', () => {
  let sim: EspRomSimulator;
  let bridge: WsBridge;
  beforeAll(async () => {
    sim = new EspRomSimulator({ chip: 'esp32s3' });
    bridge = await serveEspRomOverWebSocket(sim, { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await bridge?.close();
  });

  it('flashes and provisions a device that then connects', { timeout: 180_000 }, async () => {
    const page = await adminPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.addInitScript(serialShim, bridge.url);
    await page.goto(`${base}/flash`);
    await page.waitForSelector('#build-picket-demo');
    expect(await page.textContent('#builds')).toContain('Picket demo 1.4.0');
    expect(await page.textContent('#problems')).toContain('half-copied');
    expect(await page.isVisible('#unsupported')).toBe(false);

    const gatewayUrl = `mqtt://127.0.0.1:${gateway.mqttPort}`;
    await page.fill('#device-id', 'garden');
    await page.fill('#gateway-url', gatewayUrl);
    await page.selectOption('#baud', '921600');
    await page.click('#flash');
    await page.waitForFunction(
      () => {
        const doc = (globalThis as unknown as { document: { querySelector(s: string): Element | null } })
          .document;
        const status = doc.querySelector('#status');
        return status?.classList.contains('error') || status?.textContent?.startsWith('done:');
      },
      null,
      { timeout: 150_000 },
    );
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'flash-page.png'), fullPage: true });
    const status = await page.textContent('#status');
    expect(
      status,
      `${status} / ${await page.textContent('#hint')} / ${await page.textContent('#log')}`,
    ).toMatch(/^done: /);
    const log = await page.textContent('#log');
    expect(log).toMatch(/detected ESP32-S3/);
    expect(log).toMatch(/registered picket-garden/);
    expect(await page.getAttribute('#progress', 'value')).toBe('100');
    expect(errors).toEqual([]);

    // byte for byte in the simulated flash, then the NVS the page wrote
    const flash = sim.flash;
    expect(Buffer.compare(Buffer.from(flash.subarray(0, BOOTLOADER.length)), Buffer.from(BOOTLOADER))).toBe(
      0,
    );
    expect(
      Buffer.compare(Buffer.from(flash.subarray(0x8000, 0x8000 + TABLE.length)), Buffer.from(TABLE)),
    ).toBe(0);
    expect(Buffer.compare(Buffer.from(flash.subarray(0x10000, 0x10000 + APP.length)), Buffer.from(APP))).toBe(
      0,
    );
    const provisioning = readProvisioning(flash.subarray(0x9000, 0x9000 + 0x6000));
    expect(provisioning).toMatchObject({ deviceId: 'garden', gatewayUrls: [gatewayUrl] });
    // the token went into the NVS only, never into the gateway's log
    expect(JSON.stringify(gateway.logs)).not.toContain(provisioning.token);

    expect(await provisionedPicketEntities(nats.url, provisioning)).toEqual([
      'humidity',
      'relay',
      'temperature',
    ]);
    await page.close();
  });

  it('says why when the browser has no Web Serial', async () => {
    const page = await adminPage();
    await page.addInitScript(() =>
      Object.defineProperty((globalThis as unknown as { navigator: object }).navigator, 'serial', {
        value: undefined,
      }),
    );
    await page.goto(`${base}/flash`);
    await page.waitForSelector('#build-picket-demo');
    expect(await page.isVisible('#unsupported')).toBe(true);
    expect(await page.textContent('#unsupported')).toMatch(/Chromium-based desktop browsers/);
    expect(await page.isDisabled('#flash')).toBe(true);
    await page.close();
  });
});

describe('the flasher page API', () => {
  const post = (body: unknown) =>
    gateway.api('/api/provision', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  type ErrorBody = { error: { code: string; message: string } };
  const good = { device_id: 'attic', gateway_urls: ['ws://gw.local:8080/picket'], nvs_size: 0x6000 };

  it('lists builds and serves their files, nothing outside them', async () => {
    const listing = (await (await gateway.api('/api/firmware')).json()) as {
      builds: unknown[];
      problems: unknown[];
    };
    expect(listing.builds).toEqual([
      {
        id: 'picket-demo',
        name: 'Picket demo',
        version: '1.4.0',
        chips: ['ESP32-S3'],
        manifest: '/firmware/picket-demo/manifest.json',
      },
    ]);
    expect(listing.problems).toHaveLength(1);
    const part = await gateway.api('/firmware/picket-demo/partitions.bin');
    expect(Buffer.compare(Buffer.from(await part.arrayBuffer()), Buffer.from(TABLE))).toBe(0);
    for (const path of [
      '/firmware/picket-demo/..%2f..%2fnats',
      '/firmware/picket-demo/',
      '/firmware/nope/manifest.json',
    ])
      expect((await gateway.api(path)).status).toBe(404);
    // a malformed %-escape names no file: the request itself is wrong
    expect((await gateway.api('/firmware/picket-demo/%E0%A4%A')).status).toBe(400);
  });

  it('provisions once per id and refuses bad requests with a reason', async () => {
    const first = await post(good);
    expect(first.status).toBe(200);
    const reply = (await first.json()) as { device_id: string; nvs: string };
    expect(reply.device_id).toBe('picket-attic');
    const nvs = Uint8Array.from(Buffer.from(reply.nvs, 'base64'));
    expect(nvs.length).toBe(0x6000);
    expect(readProvisioning(nvs)).toMatchObject({ deviceId: 'attic', gatewayUrls: good.gateway_urls });

    const again = await post(good);
    expect(again.status).toBe(409);
    expect(((await again.json()) as ErrorBody).error.message).toMatch(/already registered/);
    const bad: [unknown, RegExp][] = [
      ['not json', /not JSON/],
      [{ ...good, device_id: 'Bad Id' }, /device_id/],
      [{ ...good, device_id: 'cellar', gateway_urls: ['http://x'] }, /gateway_urls.0/],
      [{ ...good, device_id: 'cellar', nvs_size: 0x1000 }, /nvs_size/],
      [{ ...good, device_id: 'cellar', wifi: { ssid: '', password: '' } }, /wifi.ssid/],
      // pass the request schema, not the provisioning record's: refused before the id is taken
      [{ ...good, device_id: 'cellar', wifi: { ssid: 'home', password: 'short' } }, /wifi.password/],
      [{ ...good, device_id: 'cellar', gateway_urls: [`ws://gw.local/${'a'.repeat(300)}`] }, /gatewayUrls.0/],
    ];
    for (const [body, reason] of bad) {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as ErrorBody).error.message).toMatch(reason);
    }
    expect((await post('x'.repeat(10_000))).status).toBe(413);
    // nothing half-registered by the refusals
    expect((await post({ ...good, device_id: 'cellar' })).status).toBe(200);
  });
});

describe('the flasher without an admin', () => {
  it('refuses the page, the builds and provisioning to nobody (401) and to a viewer (403)', async () => {
    const viewer = await gateway.token('viewer');
    for (const path of ['/flash', '/api/firmware', '/firmware/picket-demo/partitions.bin']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
      const asViewer = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${viewer}` } });
      expect(asViewer.status, path).toBe(403);
    }
    const provision = await fetch(`${base}/api/provision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        device_id: 'stranger',
        gateway_urls: ['ws://gw.local:8080/picket'],
        nvs_size: 0x6000,
      }),
    });
    expect(provision.status).toBe(401);
  });
});
