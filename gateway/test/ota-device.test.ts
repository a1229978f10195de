// The OTA device path end to end: a real gateway (on a real nats-server) offers catalog
// images to simulated pickets over MQTT and the picket WebSocket; they download over
// HTTP, verify, reboot into the new slot and are confirmed only once they are back —
// or roll back when they never come back, crash at boot, or are told to.
import { rm } from 'node:fs/promises';
import { PicketDevice, type PicketDeviceOptions, waitForEvent } from '@sentinel/simulators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import type { OtaImageRef, OtaProgress } from '../src/ota/types.js';
import {
  addToCatalog,
  appImage,
  dataDirForTest,
  ecKey,
  OLD_VERSION,
  recordProgress,
  rsaKey,
  signed,
  type TestKey,
} from './ota-support.js';

let stack: TestStack;
let gateway: TestGateway;
let dataDir: string;
let progress: ReturnType<typeof recordProgress>;
let v150: OtaImageRef;
let signed160: OtaImageRef;
let foreignSigned160: OtaImageRef;
let trusted: TestKey;
const devices: PicketDevice[] = [];

beforeAll(async () => {
  dataDir = await dataDirForTest();
  stack = await startStack({ dataDir });
  gateway = stack.gateway;
  progress = recordProgress(gateway.otaFleet);
  trusted = rsaKey();
  v150 = await addToCatalog(dataDir, appImage('1.5.0'));
  signed160 = await addToCatalog(dataDir, await signed(appImage('1.6.0'), trusted));
  // a valid signature, by a key no device trusts: what an attacker re-signing an image has
  foreignSigned160 = await addToCatalog(dataDir, await signed(appImage('1.6.1'), ecKey()));
}, 30_000);

afterAll(async () => {
  await Promise.all(devices.map((d) => d.stop()));
  progress?.stop();
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const URLS = {
  mqtt: () => `mqtt://127.0.0.1:${gateway.mqttPort}`,
  ws: () => `ws://127.0.0.1:${gateway.httpPort}/picket`,
};

/** A registered, connected simulated picket running OLD_VERSION whose hello the gateway has. */
async function device(
  id: string,
  via: keyof typeof URLS = 'mqtt',
  ota: PicketDeviceOptions['ota'] = {},
): Promise<PicketDevice> {
  const token = await gateway.addDevice(id);
  const sim = new PicketDevice({
    id,
    token,
    gateway: URLS[via](),
    intervalMs: 60_000,
    hello: { fw: OLD_VERSION },
    backoff: { initialMs: 20, maxMs: 200 },
    ota: { rebootMs: 20, ...ota },
  });
  devices.push(sim);
  // a stored reading means the hello before it is registered
  const acked = waitForEvent(sim, 'acked');
  sim.start();
  await acked;
  return sim;
}

const reportOf = (offer: string, state: OtaProgress['state']) =>
  progress.first((p) => p.offer === offer && p.state === state);

/** Offer, wait until it is back on the new image, confirm, wait for the confirmation. */
async function updateAndConfirm(id: string, image: OtaImageRef): Promise<string> {
  const offer = await gateway.otaFleet.offer(id, image);
  expect(await reportOf(offer, 'booted')).toEqual({
    device: id,
    offer,
    state: 'booted',
    version: image.version,
  });
  await gateway.otaFleet.confirm(id, offer);
  expect(await reportOf(offer, 'confirmed')).toEqual({
    device: id,
    offer,
    state: 'confirmed',
    version: image.version,
  });
  return offer;
}

describe('an update confirmed only when the device is back', () => {
  it.each(['mqtt', 'ws'] as const)(
    'over %s: offer, download, verify, reboot, booted, confirm',
    async (via) => {
      const id = `ota-ok-${via}`;
      const sim = await device(id, via);
      const booted = waitForEvent(sim, 'ota', { filter: (e) => e.kind === 'booted', timeoutMs: 10_000 });
      const offer = await updateAndConfirm(id, v150);

      const states = progress.of(offer).map((p) => p.state);
      expect(states.filter((s) => s !== 'downloading')).toEqual([
        'verifying',
        'rebooting',
        'booted',
        'confirmed',
      ]);
      expect(states.indexOf('downloading')).toBe(0);
      const percents = progress.of(offer).flatMap((p) => (p.state === 'downloading' ? [p.percent] : []));
      expect(percents.at(-1)).toBe(100);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      // the device rebooted into the other slot and runs the new image for good
      expect((await booted)[0]).toMatchObject({ version: '1.5.0', slot: 1, pending: true });
      expect(sim.ota).toEqual({ slot: 1, version: '1.5.0', pending: undefined });
      expect(sim.hello.fw).toBe('1.5.0');
      const listed = (await gateway.otaFleet.devices()).find((d) => d.device === id);
      expect(listed).toMatchObject({ fw: '1.5.0', chip: 'esp32s3', online: true });
    },
  );

  it('refuses to confirm before the device is back on the new version', async () => {
    const id = 'ota-early';
    await device(id, 'mqtt', { confirmWindowMs: 60_000 });
    const offer = await gateway.otaFleet.offer(id, v150);
    await expect(gateway.otaFleet.confirm(id, offer)).rejects.toMatchObject({ reason: 'not_booted' });
    await reportOf(offer, 'booted');
    await gateway.otaFleet.confirm(id, offer);
    await reportOf(offer, 'confirmed');
  });
});

describe('downloads that go wrong', () => {
  it('a corrupted download is rejected by SHA-256 and downloaded again', async () => {
    const id = 'ota-corrupt';
    const sim = await device(id);
    sim.injectOtaFault({ kind: 'corrupt-download' });
    const downloads: number[] = [];
    sim.on('ota', (e) => {
      if (e.kind === 'download') downloads.push(e.start);
    });
    const offer = await updateAndConfirm(id, v150);
    const retry = progress.of(offer).find((p) => p.state === 'downloading' && p.attempt === 2) as Extract<
      OtaProgress,
      { state: 'downloading' }
    >;
    expect(retry.retry).toMatch(/^sha256_mismatch/);
    // the damaged copy was thrown away: the second download starts from the first byte
    expect(downloads).toEqual([0, 0]);
    expect(progress.of(offer).filter((p) => p.state === 'verifying')).toHaveLength(2);
  });

  it('after a power cut mid-download the device resumes from its last byte', async () => {
    const id = 'ota-power';
    const sim = await device(id, 'ws');
    const cutAt = 100_003;
    sim.injectOtaFault({ kind: 'power-loss', atByte: cutAt });
    const requests: { start: number; status: number }[] = [];
    sim.on('ota', (e) => {
      if (e.kind === 'download') requests.push({ start: e.start, status: e.status });
    });
    const reconnected = waitForEvent(sim, 'connected', { timeoutMs: 10_000 });
    const offer = await gateway.otaFleet.offer(id, v150);
    await reconnected; // back after the power cut, still on the old image
    await updateAndConfirmAfterOffer(id, offer, v150);
    expect(requests).toEqual([
      { start: 0, status: 200 },
      { start: cutAt, status: 206 },
    ]);
    // the gateway served the second request from that byte
    const served = await gateway.logged(
      (l) => l.msg === 'OTA download' && l.offer === offer && l.start === cutAt,
    );
    expect(served.end).toBe(v150.size - 1);
    // a power cut while still on the old image is no rollback
    expect(progress.of(offer).some((p) => p.state === 'rolled_back' || p.state === 'failed')).toBe(false);
  });
});

async function updateAndConfirmAfterOffer(id: string, offer: string, image: OtaImageRef): Promise<void> {
  await reportOf(offer, 'booted');
  await gateway.otaFleet.confirm(id, offer);
  expect(await reportOf(offer, 'confirmed')).toMatchObject({ version: image.version });
}

describe('signatures', () => {
  it('a signed_ota device takes an image signed by a key it trusts', async () => {
    const id = 'ota-signed';
    await device(id, 'mqtt', { signedOta: true, trustedKeys: [trusted.publicKey] });
    await updateAndConfirm(id, signed160);
  });

  it('an image signed by another key is refused by the device and nothing is booted', async () => {
    const id = 'ota-tampered';
    const sim = await device(id, 'mqtt', { signedOta: true, trustedKeys: [trusted.publicKey] });
    const offer = await gateway.otaFleet.offer(id, foreignSigned160);
    const failed = await reportOf(offer, 'failed');
    expect(failed).toMatchObject({
      device: id,
      reason: expect.stringMatching(/^bad_signature: .*trusted key/),
    });
    expect(sim.ota).toEqual({ slot: 0, version: OLD_VERSION, pending: undefined });
    expect(progress.of(offer).map((p) => p.state)).not.toContain('rebooting');
  });
});

describe('rollback', () => {
  it('firmware that never reconnects is rolled back by the device, and the gateway names it', async () => {
    const id = 'ota-silent';
    const sim = await device(id, 'mqtt', { confirmWindowMs: 800 });
    sim.injectOtaFault({ kind: 'never-reconnects' });
    const offer = await gateway.otaFleet.offer(id, v150);
    const rolledBack = await reportOf(offer, 'rolled_back');
    expect(rolledBack).toMatchObject({ device: id, offer, version: OLD_VERSION });
    expect((rolledBack as { reason: string }).reason).toContain(id);
    expect(progress.of(offer).map((p) => p.state)).not.toContain('booted');
    expect(sim.ota).toEqual({ slot: 0, version: OLD_VERSION, pending: undefined });
    await expect(gateway.otaFleet.confirm(id, offer)).rejects.toMatchObject({ reason: 'not_booted' });
  });

  it('firmware that crashes at boot comes back on the previous slot', async () => {
    const id = 'ota-crash';
    const sim = await device(id, 'ws');
    sim.injectOtaFault({ kind: 'crash-at-boot' });
    const offer = await gateway.otaFleet.offer(id, v150);
    expect(await reportOf(offer, 'rolled_back')).toMatchObject({ device: id, version: OLD_VERSION });
    expect(sim.ota?.version).toBe(OLD_VERSION);
  });

  it('a device told to roll back boots its previous image with the reason given', async () => {
    const id = 'ota-told';
    const sim = await device(id, 'mqtt');
    const offer = await gateway.otaFleet.offer(id, v150);
    await reportOf(offer, 'booted');
    await gateway.otaFleet.rollback(id, offer, 'the canary stage failed');
    expect(await reportOf(offer, 'rolled_back')).toEqual({
      device: id,
      offer,
      state: 'rolled_back',
      version: OLD_VERSION,
      reason: 'the canary stage failed',
    });
    expect(sim.ota).toEqual({ slot: 0, version: OLD_VERSION, pending: undefined });
    // updated again later: the same device takes the image once more
    await updateAndConfirm(id, v150);
  });
});
